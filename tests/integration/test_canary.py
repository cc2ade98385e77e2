"""The self-test canary on real targets: passes where the runtime works, names the failed
probe where a target is misconfigured, and `xarch canary` exits accordingly."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from pytest_xarch import Fidelity
from pytest_xarch.canary import run_canary
from pytest_xarch.process import execute
from pytest_xarch.targets import builtin_registry, resolve_target
from pytest_xarch.toolchain import zig_available
from tests.support.tools import missing, require_tool

GLIBC_TARGETS = ["aarch64", "armv7", "armel", "riscv64", "ppc64le", "s390x", "i686", "x86_64"]
C_PROBES = ["pointer-size", "endianness", "threads", "tls", "atomics", "signal", "mmap",
            "clock", "malloc"]
CXX_PROBES = ["exceptions", "static-init", "thread-local"]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One build cache for the whole session, shared by xdist workers."""
    return tmp_path_factory.getbasetemp().parent / "xarch-build-cache"


def _require(name: str) -> None:
    target = resolve_target(name)
    require_tool(f"{target.triple}-gcc", target.packages[0])
    require_tool(target.qemu_binary, "qemu-user")


@pytest.mark.parametrize("name", GLIBC_TARGETS)
def test_canary_passes_on_every_builtin_glibc_target(name: str, shared_cache: Path) -> None:
    _require(name)
    target = resolve_target(name)
    result = run_canary(target, cache_dir=shared_cache)
    assert result.ok, result.explain()
    names = [probe.name for probe in result.probes]
    has_cxx = shutil.which(f"{target.triple}-g++") is not None
    assert names == C_PROBES + (CXX_PROBES if has_cxx else [])
    assert not result.static  # dynamic: the loader and the sysroot are part of what it proves
    native = name == "x86_64" and os.uname().machine == "x86_64"
    assert result.fidelity == (Fidelity.NATIVE if native else Fidelity.EMULATED)
    assert "xarch-canary ok" in result.output
    bits = f"{target.bits}-bit pointers"
    assert any(p.name == "pointer-size" and bits in p.detail for p in result.probes)


def test_canary_on_a_musl_target_built_with_zig_is_static(shared_cache: Path) -> None:
    if not zig_available():
        missing("ziglang is not installed (pip install 'pytest-xarch[zig]')")
    require_tool("qemu-aarch64", "qemu-user")
    result = run_canary(resolve_target("aarch64-musl"), cache_dir=shared_cache, cxx=False)
    assert result.ok, result.explain()
    assert result.static and [p.name for p in result.probes] == C_PROBES


def _defined(name: str, **table: object) -> object:
    """A target as a user's [tool.pytest_xarch.target.<name>] table defines it."""
    return builtin_registry().with_definitions({name: dict(table)}, "pyproject.toml").resolve(name)


def test_address_space_capped_below_the_canary_fails_at_the_malloc_probe(
    shared_cache: Path,
) -> None:
    _require("aarch64")
    # Someone "emulates a small board" by reserving 64 MiB of guest address space.
    target = _defined("tiny-board", base="aarch64", qemu_args=["-R", "64M"])
    result = run_canary(target, cache_dir=shared_cache)  # type: ignore[arg-type]
    assert not result.ok
    assert result.failed_probe == "malloc"
    assert result.reason.startswith("malloc(64 MiB) returned NULL")
    explanation = result.explain()
    assert "canary on target 'tiny-board'" in explanation
    assert "failed at probe 'malloc'" in explanation
    assert "threads ok" in explanation  # the output shows how far it got


def test_a_sysroot_of_another_architecture_fails_the_canary_clearly(shared_cache: Path) -> None:
    _require("aarch64")
    require_tool("arm-linux-gnueabihf-gcc", "libc6-dev-armhf-cross")
    target = _defined("wrong-root", base="aarch64", sysroot="/usr/arm-linux-gnueabihf")
    result = run_canary(target, cache_dir=shared_cache)  # type: ignore[arg-type]
    assert not result.ok
    assert result.failed_probe in {"build", "setup"}
    assert "/lib/ld-linux-aarch64.so.1" in result.explain()
    assert "/usr/arm-linux-gnueabihf" in result.explain()


def _xarch(*args: str, cache: Path) -> tuple[int, str, str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    outcome = execute([sys.executable, "-m", "pytest_xarch.cli", *args], timeout=300, env=env)
    return outcome.returncode, outcome.stdout.decode(), outcome.stderr.decode()


def test_xarch_canary_command(tmp_path: Path) -> None:
    _require("riscv64")
    status, out, err = _xarch("canary", "--target", "riscv64", cache=tmp_path)
    assert status == 0, out + err
    assert out.startswith("canary on target 'riscv64' [qemu-riscv64 ")
    assert "  threads       ok" in out
    assert (tmp_path / "pytest-xarch" / "builds" / "builds.log").is_file()  # the user cache

    status, out, err = _xarch("canary", "--target", "riscv64gc-unknown-linux-gnu", "--json",
                              cache=tmp_path)
    data = json.loads(out)
    assert status == 0 and data["ok"] is True and data["target"] == "riscv64"
    assert data["fidelity"] == "emulated"
    assert len((tmp_path / "pytest-xarch" / "builds" / "builds.log").read_text().splitlines()) <= 2


def test_xarch_canary_exit_statuses_on_failure_and_bad_usage(tmp_path: Path) -> None:
    _require("aarch64")
    status, out, _ = _xarch("canary", "--target", "graviton3", cache=tmp_path)
    assert status == 1
    assert "failed at probe 'setup'" in out and "neoverse-v1" in out
    status, _, err = _xarch("canary", "--target", "aarch46", cache=tmp_path)
    assert status == 2 and "unknown target 'aarch46'" in err and "Traceback" not in err
    status, _, err = _xarch("canary", cache=tmp_path)
    assert status == 2 and "--target" in err
