"""The package as users get it: the sdist is the whole project, the wheel installs into a
fresh virtualenv and works from there (command, plugin, a real emulated run)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from pytest_xarch.version import __version__

from ..support.build import CrossBuilder
from ..support.tools import require_tool

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SMOKE = """
def test_hello(xarch_run, xarch_target):
    result = xarch_run({hello!r})
    assert result.stdout == "hello\\n"
    assert str(result.fidelity) == "emulated"
"""


def _run(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_NO_CACHE_DIR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    completed = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                               timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    output = f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    assert completed.returncode == 0, f"{argv}:\n{output}"
    return completed


def test_the_sdist_is_the_whole_project_and_the_wheel_says_its_license(dist: Path) -> None:
    [sdist] = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("LICENSE", "CHANGELOG.md", "README.md", "Makefile", "noxfile.py",
                   ".ci/run", "docs/collectors.md", "examples/demo/test_demo.py",
                   "tests/integration/suites/unity/sample_test.c", "qemu/provision.py",
                   "benchmarks/bench_collect.py", "src/pytest_xarch/plugin/__init__.py",
                   "mkdocs.yml", "tools/mkdocs_hooks.py", "examples/ci/gitlab-ci.yml"):
        assert needed in names, needed
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    [wheel] = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(archive.read(name).decode() for name in archive.namelist()
                        if name.endswith(".dist-info/METADATA"))
        assert any(name.endswith(".dist-info/licenses/LICENSE") for name in archive.namelist())
    assert "License-Expression: MIT" in metadata
    assert f"Version: {__version__}" in metadata


def test_the_wheel_works_from_a_fresh_virtualenv(dist: Path, tmp_path: Path,
                                                 cross_build: CrossBuilder) -> None:
    require_tool("qemu-aarch64", "qemu-user")
    [wheel] = dist.glob("*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
         cwd=tmp_path)
    version = _run([str(venv / "bin" / "xarch"), "--version"], cwd=tmp_path)
    assert version.stdout.strip() == f"xarch {__version__}"
    where = _run([str(venv / "bin" / "python"), "-c",
                  "import pytest_xarch; print(pytest_xarch.__file__)"], cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(venv)  # not this checkout
    hello = cross_build.build("aarch64", '#include <stdio.h>\nint main(void) '
                              '{ puts("hello"); return 0; }\n', name="hello")
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_smoke.py").write_text(SMOKE.format(hello=str(hello)))
    smoke = _run([str(venv / "bin" / "pytest"), "--xarch=aarch64", "-v", "-p",
                  "no:cacheprovider"], cwd=project)
    assert "test_smoke.py::test_hello[aarch64] PASSED [emulated]" in smoke.stdout
    assert "xarch fidelity matrix" in smoke.stdout
