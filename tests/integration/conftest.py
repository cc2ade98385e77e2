"""Every test under tests/integration is an integration test: `-m "not integration"` skips
them all (they need QEMU, cross compilers, sshd, root for binfmt_misc). Also the fixtures
the collector tests share: where the sample suites are built, and counted QEMU launches."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_xarch.runners.ssh import close_all

from ..support.launches import WRAPPER, Launches
from ..support.tools import missing, require_tool
from .sshd import SSHD, Sshd

_HERE = Path(__file__).parent
_ROOT = _HERE.parents[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="module")
def suites_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the sample suites are built, shared by the session's workers."""
    require_tool("qemu-aarch64", "qemu-user")
    return tmp_path_factory.getbasetemp().parent / "xarch-suites"


@pytest.fixture
def launches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Launches:
    """Put logging wrappers of qemu-aarch64 and qemu-arm first on PATH."""
    folder = tmp_path / "wrapped-qemu"
    folder.mkdir()
    log = tmp_path / "launches.log"
    for name in ("qemu-aarch64", "qemu-arm"):
        real = require_tool(name, "qemu-user")
        wrapper = folder / name
        wrapper.write_text(WRAPPER.format(log=log, real=real))
        wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    return Launches(log)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    """A real sshd on a free loopback port, for this module."""
    if not os.path.exists(SSHD):
        missing(f"{SSHD} is not installed (apt-get install openssh-server)")
    require_tool("ssh", "openssh-client")
    require_tool("ssh-keygen", "openssh-client")
    server = Sshd.start(tmp_path_factory.mktemp("sshd"))
    yield server
    close_all()
    server.stop()


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and wheel, built from this checkout in an isolated environment: once per
    session, by the first xdist worker that asks (a build writes into the source tree)."""
    pytest.importorskip("build")
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    # Under xdist the workers' base directories share a parent of this session's own.
    out = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "xarch-dist"
    with FileLock(str(out) + ".lock"):
        if not list(out.glob("*.whl")):
            out.mkdir(exist_ok=True)
            env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
            env.pop("PYTHONPATH", None)
            built = subprocess.run(
                [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out),
                 str(_ROOT)], cwd=out, env=env, capture_output=True, text=True, timeout=600,
                stdin=subprocess.DEVNULL, check=False)
            assert built.returncode == 0, f"{built.stdout[-3000:]}\n{built.stderr[-3000:]}"
    return out
