"""`xarch toolchain` output, used as users would: real projects configured with nothing but
the generated file, built with the real cross compilers, tested under real QEMU."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..support.tools import require_tool
from .test_recipes import _rust_for

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = Path(__file__).parent / "projects"
XARCH = str(Path(sys.executable).with_name("xarch"))


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 900) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{output[-5000:]}"
    return output


def _project(kind: str, tmp_path: Path) -> Path:
    """The project's files (a C project's with the shared C sources) in a scratch directory."""
    source = tmp_path / kind
    shutil.copytree(PROJECTS / kind, source)
    if kind != "go":
        for path in (PROJECTS / "common").iterdir():
            shutil.copy2(path, source / path.name)
    return source


def _generated(form: str, tmp_path: Path, target: str = "aarch64") -> Path:
    path = tmp_path / f"xarch-{target}.{form}"
    _run([XARCH, "toolchain", "--target", target, "--format", form, "--output", str(path)],
         cwd=tmp_path)
    return path


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_tool("qemu-aarch64", "qemu-user")
    require_tool("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu")


def test_cmake_toolchain_file_builds_and_ctest_runs_discovered_gtests(tmp_path: Path) -> None:
    require_tool("cmake", "cmake")
    require_tool("aarch64-linux-gnu-g++", "g++-aarch64-linux-gnu")
    if not Path("/usr/src/googletest/CMakeLists.txt").exists():
        pytest.skip("no GoogleTest sources (apt-get install googletest)")
    source, build = _project("cmake", tmp_path), tmp_path / "build"
    toolchain = _generated("cmake", tmp_path)
    _run(["cmake", "-S", str(source), "-B", str(build), f"-DCMAKE_TOOLCHAIN_FILE={toolchain}"],
         cwd=tmp_path)
    # gtest_discover_tests runs the aarch64 test binary through the emulator while building.
    _run(["cmake", "--build", str(build), "-j", "2"], cwd=tmp_path)
    output = _run(["ctest", "--output-on-failure", "-V"], cwd=build)
    assert "100% tests passed, 0 tests failed out of 5" in output
    assert f"{XARCH} run --target aarch64 --" in output.replace('"', "")
    greet = build / "libgreet.so"
    assert greet.read_bytes()[18] == 183  # e_machine: AArch64, the project's own library


def test_cmake_toolchain_file_keeps_pkg_config_to_the_targets_files(tmp_path: Path) -> None:
    require_tool("cmake", "cmake")
    require_tool("pkg-config", "pkg-config")
    # An aarch64 library of the test's own, described by a .pc file the user points at.
    own = tmp_path / "own"
    (own / "lib" / "pkgconfig").mkdir(parents=True)
    (tmp_path / "greet.c").write_text((PROJECTS / "common" / "greet.c").read_text())
    (tmp_path / "greet.h").write_text((PROJECTS / "common" / "greet.h").read_text())
    _run(["aarch64-linux-gnu-gcc", "-c", "-o", str(tmp_path / "greet.o"),
          str(tmp_path / "greet.c")], cwd=tmp_path)
    _run(["aarch64-linux-gnu-ar", "rcs", str(own / "lib" / "libgreet.a"),
          str(tmp_path / "greet.o")], cwd=tmp_path)
    (own / "lib" / "pkgconfig" / "greet.pc").write_text(
        f"prefix={own}\nlibdir=${{prefix}}/lib\nName: greet\nDescription: test\n"
        "Version: 1\nLibs: -L${libdir} -lgreet\n")
    toolchain = _generated("cmake", tmp_path)
    env = {**os.environ, "PKG_CONFIG_PATH": str(own / "lib" / "pkgconfig")}
    output = _run(["cmake", "-S", str(PROJECTS / "pkgconfig"), "-B", str(tmp_path / "build"),
                   f"-DCMAKE_TOOLCHAIN_FILE={toolchain}"], cwd=tmp_path, env=env)
    assert f"greet found: '1' {own}/lib/libgreet.a" in output
    if not Path("/usr/lib/aarch64-linux-gnu/pkgconfig/zlib.pc").exists():
        assert "zlib found: ''" in output  # the host's zlib.pc is not the target's


def test_meson_cross_file_builds_and_meson_test_runs_through_the_wrapper(
    tmp_path: Path,
) -> None:
    require_tool("meson", "meson")
    require_tool("ninja", "ninja-build")
    source, build = _project("meson", tmp_path), tmp_path / "build"
    cross = _generated("meson", tmp_path)
    _run(["meson", "setup", "--cross-file", str(cross), str(build), str(source)], cwd=tmp_path)
    _run(["meson", "compile", "-C", str(build)], cwd=tmp_path)
    output = _run(["meson", "test", "-C", str(build), "-v"], cwd=tmp_path)
    assert "greet on aarch64" in output
    assert "Ok:                 1" in output or "Ok: 1" in output.replace("  ", " ")


def _autotools(kind: str, make: str, tmp_path: Path) -> tuple[Path, str]:
    """The project configured with the generated exports for aarch64, then `make`'s
    commands run: (its directory, the output)."""
    for tool, package in (("autoreconf", "autoconf"), ("automake", "automake"),
                          ("libtoolize", "libtool"), ("make", "make")):
        require_tool(tool, package)
    source = _project(kind, tmp_path)
    exports = _generated("env", tmp_path)
    _run(["autoreconf", "-i"], cwd=source)
    output = _run(["sh", "-c", f'. {exports} && ./configure --host="$XARCH_HOST" && {make}'],
                  cwd=source)
    assert "checking whether we are cross compiling... yes" in output
    assert "# PASS:  1" in output
    assert "greet on aarch64" in (source / "greet_test.log").read_text()
    return source, output


def test_autotools_exports_configure_for_the_host_and_make_check_runs_under_qemu(
    tmp_path: Path,
) -> None:
    _autotools("autotools", "make check", tmp_path)


def test_autotools_with_libtool_wrappers_run_under_libtool_execute(tmp_path: Path) -> None:
    source, _ = _autotools(
        "libtool", 'make && make check LOG_COMPILER="$XARCH_LIBTOOL_LOG_COMPILER"', tmp_path)
    # The test program is libtool's wrapper script; the real one links libgreet.so.
    assert (source / "greet_test").read_bytes()[:2] == b"#!"
    assert (source / ".libs" / "libgreet.so").exists()


def test_go_exports_build_cgo_and_go_test_execs_through_xarch(tmp_path: Path) -> None:
    require_tool("go", "golang-go")
    source = _project("go", tmp_path)
    exports = _generated("go", tmp_path)
    env = {**os.environ, "GOPATH": str(tmp_path / "gopath"), "GOFLAGS": "-mod=mod",
           "GOPROXY": "off", "GOTOOLCHAIN": "local", "HOME": str(tmp_path),
           "GOCACHE": str(tmp_path.parent.parent / "xarch-go-cgo-cache")}
    output = _run(["sh", "-c", f'. {exports} && go test -v -count=1 -exec "$XARCH_GO_EXEC" ./...'],
                  cwd=source, env=env)
    assert "--- PASS: TestRunsOnTheTarget" in output
    assert "ok  \texample.com/greet" in output


def test_cargo_table_links_and_runs_the_crates_tests(tmp_path: Path) -> None:
    rustc, cargo = _rust_for("aarch64-unknown-linux-gnu")
    crate = tmp_path / "crate"
    shutil.copytree(ROOT / "examples" / "recipes" / "cargo", crate,
                    ignore=shutil.ignore_patterns(".cargo", "target"))
    (crate / ".cargo").mkdir()
    _generated("cargo", tmp_path).rename(crate / ".cargo" / "config.toml")
    env = {key: value for key, value in os.environ.items() if not key.startswith("RUST_TEST")}
    env.update(RUSTC=rustc, CARGO_HOME=str(tmp_path / "cargo-home"), CARGO_TERM_COLOR="never")
    output = _run([cargo, "test", "-v", "--offline", "--target", "aarch64-unknown-linux-gnu"],
                  cwd=crate, env=env)
    assert "test result: ok." in output
    assert f"`{XARCH} run --target aarch64 --" in output


PROBE = r"""
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "crash") == 0) raise(SIGSEGV);
  if (argc > 1 && strcmp(argv[1], "hang") == 0) for (;;) pause();
  for (int i = 1; i < argc; i++) printf("<%s>\n", argv[i]);
  const char *preload = getenv("LD_PRELOAD"), *target = getenv("XARCH_TARGET");
  printf("LD_PRELOAD=%s XARCH_TARGET=%s\n", preload ? preload : "-", target ? target : "-");
  return 7;
}
"""


def test_the_emulator_script_keeps_xarch_runs_contract(tmp_path: Path) -> None:
    (tmp_path / "probe.c").write_text(PROBE)
    probe = tmp_path / "probe"
    _run(["aarch64-linux-gnu-gcc", "-o", str(probe), str(tmp_path / "probe.c")], cwd=tmp_path)
    # A short timeout, so that the hang below costs one second.
    (tmp_path / "xarch.toml").write_text("timeout = 1\nemulation_factor = 1\n")
    script = _generated("emulator", tmp_path)
    assert os.access(script, os.X_OK) and "python" not in script.read_text()
    env = {**os.environ, "LD_PRELOAD": "/host/only.so", "QEMU_CPU": "max"}

    def launch(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(script), str(probe), *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    done = launch("a b", "$(x)", "")
    assert done.returncode == 7  # the program's own status
    assert done.stdout == "<a b>\n<$(x)>\n<>\nLD_PRELOAD=- XARCH_TARGET=aarch64\n"
    # Killed by SIGSEGV, as the program was; a shell's $? says 128+11, as for `xarch run`.
    assert launch("crash").returncode == -11
    status = subprocess.run(["sh", "-c", f'"$0" {probe} crash 2>/dev/null; echo $?', str(script)],
                            capture_output=True, text=True, timeout=60, check=False, env=env)
    assert status.stdout == "139\n"
    assert launch("hang").returncode == 124  # killed at the target's timeout
    assert not list(tmp_path.glob("*.core"))


def test_cmake_with_the_emulator_script_runs_ctest(tmp_path: Path) -> None:
    require_tool("cmake", "cmake")
    source, build = ROOT / "examples" / "recipes" / "cmake", tmp_path / "build"
    script = _generated("emulator", tmp_path)
    toolchain = tmp_path / "aarch64.cmake"
    _run([XARCH, "toolchain", "--target", "aarch64", "--format", "cmake", "--emulator",
          str(script), "--output", str(toolchain)], cwd=tmp_path)
    _run(["cmake", "-S", str(source), "-B", str(build), f"-DCMAKE_TOOLCHAIN_FILE={toolchain}"],
         cwd=tmp_path)
    _run(["cmake", "--build", str(build)], cwd=tmp_path)
    output = _run(["ctest", "--output-on-failure", "-V"], cwd=build)
    assert "100% tests passed, 0 tests failed out of 3" in output
    assert f"Test command: {script}" in output
    assert "machine=aarch64 fidelity=emulated" in output
