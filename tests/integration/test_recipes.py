"""The recipes of docs/recipes.md, run for real: ctest and `go test -exec` through `xarch run`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tools import missing, require_tool

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "examples" / "recipes"
XARCH = str(Path(sys.executable).with_name("xarch"))


def _run(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_cmake_ctest_uses_xarch_run_as_crosscompiling_emulator(tmp_path: Path) -> None:
    require_tool("cmake", "cmake")
    require_tool("ctest", "cmake")
    require_tool("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu")
    require_tool("qemu-aarch64", "qemu-user")
    build = tmp_path / "build"
    configure = _run([
        "cmake", "-S", str(RECIPES / "cmake"), "-B", str(build),
        f"-DCMAKE_TOOLCHAIN_FILE={RECIPES / 'cmake' / 'toolchain-aarch64-linux-gnu.cmake'}",
        f"-DCMAKE_CROSSCOMPILING_EMULATOR={XARCH};run;--target;aarch64;--",
    ], cwd=tmp_path)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    compiled = _run(["cmake", "--build", str(build), "-j", "2"], cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    tested = _run(["ctest", "--output-on-failure", "-V"], cwd=build)
    output = tested.stdout + tested.stderr
    assert tested.returncode == 0, output
    assert "100% tests passed, 0 tests failed out of 3" in output
    assert f'Test command: {XARCH} "run" "--target" "aarch64" "--"' in output
    assert "machine=aarch64 fidelity=emulated checksum(123456789)=0xcbf43926" in output


@pytest.fixture
def go_env(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for an offline `go test` cross build to arm64 with caches outside the repo."""
    require_tool("go", "golang-go")
    require_tool("qemu-aarch64", "qemu-user")
    cache = tmp_path_factory.getbasetemp().parent / "xarch-go-cache"  # reused between runs
    env = dict(os.environ)
    env.update(
        GOPATH=str(tmp_path / "gopath"), GOCACHE=str(cache), GOFLAGS="-mod=mod",
        GOPROXY="off", GOWORK="off", GOTOOLCHAIN="local", GOARCH="arm64", CGO_ENABLED="0",
        HOME=str(tmp_path),
    )
    return env


def _go_test(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    package = tmp_path / "go"
    shutil.copytree(RECIPES / "go", package)
    return _run(["go", "test", "-v", "-count=1", "-exec", f"{XARCH} run --target aarch64 --",
                 "./..."], cwd=package, env=env)


def test_go_test_exec_runs_arm64_tests_through_xarch(go_env: dict[str, str],
                                                     tmp_path: Path) -> None:
    tested = _go_test(go_env, tmp_path)
    output = tested.stdout + tested.stderr
    assert tested.returncode == 0, output
    assert "GOARCH=arm64 XARCH_TARGET=aarch64 XARCH_FIDELITY=emulated" in output
    assert "--- PASS: TestChecksum" in output
    assert "ok  \texample.com/xarchrecipe" in output


def test_go_test_exec_reports_a_failing_emulated_test(go_env: dict[str, str],
                                                       tmp_path: Path) -> None:
    go_env["RECIPE_SHOULD_FAIL"] = "1"
    tested = _go_test(go_env, tmp_path)
    output = tested.stdout + tested.stderr
    assert tested.returncode != 0, output
    assert "--- FAIL: TestFailsOnRequest" in output
    assert "failing as requested" in output


def _rust_for(triple: str) -> tuple[str, str]:
    """(rustc, cargo) of a toolchain with `triple`'s standard library (Debian's, through
    multiarch: libstd-rust-dev:arm64), or skip/fail naming how to get one."""
    for rustc in dict.fromkeys(filter(None, (shutil.which("rustc"), "/usr/bin/rustc"))):
        sysroot = subprocess.run([rustc, "--print", "sysroot"], capture_output=True,
                                 text=True, check=False).stdout.strip()
        cargo = Path(rustc).with_name("cargo")
        if (Path(sysroot) / "lib" / "rustlib" / triple / "lib").is_dir() and cargo.exists():
            return rustc, str(cargo)
    missing(f"no rustc with the {triple} standard library (python3 qemu/provision.py "
            "--multiarch: Debian's rustc, cargo and libstd-rust-dev:arm64)")
    raise AssertionError("unreachable")


@pytest.fixture
def cargo_crate(tmp_path: Path) -> tuple[Path, dict[str, str], str]:
    """The cargo recipe's crate copied to a temporary directory, its environment, cargo."""
    require_tool("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu")
    require_tool("qemu-aarch64", "qemu-user")
    rustc, cargo = _rust_for("aarch64-unknown-linux-gnu")
    crate = tmp_path / "crate"
    shutil.copytree(RECIPES / "cargo", crate)
    env = {key: value for key, value in os.environ.items() if not key.startswith("RUST_TEST")}
    env.update(PATH=f"{Path(XARCH).parent}{os.pathsep}{env.get('PATH', '')}", RUSTC=rustc,
               CARGO_HOME=str(tmp_path / "cargo-home"), CARGO_TERM_COLOR="never")
    return crate, env, cargo


def test_cargo_test_runs_threaded_aarch64_tests_through_xarch(
    cargo_crate: tuple[Path, dict[str, str], str], pytester: pytest.Pytester
) -> None:
    crate, env, cargo = cargo_crate
    tested = _run([cargo, "test", "--offline", "--target", "aarch64-unknown-linux-gnu"],
                  cwd=crate, env=env)
    output = tested.stdout + tested.stderr
    assert tested.returncode == 0, output
    assert "test result: ok. 5 passed; 0 failed; 1 ignored" in output
    assert "RUST_TEST_THREADS" not in env
    # The same binary, collected case by case: found by cargo's naming, no pattern needed.
    deps = crate / "target" / "aarch64-unknown-linux-gnu" / "debug" / "deps"
    (binary,) = [p for p in deps.glob("checksum-*") if p.suffix == "" and os.access(p, os.X_OK)]
    result = pytester.runpytest_subprocess(
        "--xarch=aarch64", str(deps), f"--rootdir={deps}", "-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=5, skipped=1)
    result.stdout.fnmatch_lines([f"*{binary.name}::tests::chunks_on_threads?aarch64? PASSED*"])
