"""What `xarch toolchain` writes, per format, from a target's facts (no compiler is run)."""

from __future__ import annotations

import dataclasses
import sys

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

from pytest_xarch.errors import SetupError
from pytest_xarch.targets import builtin_registry
from pytest_xarch.toolchain import Compiler
from pytest_xarch.toolchain.files import ToolchainFacts, render

EMULATOR = ("/opt/venv/bin/xarch", "run", "--target", "armv7", "--")


def facts(name: str = "armv7", **changes: object) -> ToolchainFacts:
    target = builtin_registry().resolve(name)
    gcc = Compiler("gcc", (f"/usr/bin/{target.triple}-gcc",), "gcc 12", "c")
    gxx = Compiler("gcc", (f"/usr/bin/{target.triple}-g++",), "g++ 12", "c++")
    base = ToolchainFacts(target, gcc, gxx, EMULATOR, None, (f"/usr/{target.triple}",),
                          {"ar": f"/usr/bin/{target.triple}-ar"})
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_cmake_names_system_compilers_root_policy_and_emulator() -> None:
    text = render(facts(), "cmake")
    for line in ("set(CMAKE_SYSTEM_NAME Linux)", "set(CMAKE_SYSTEM_PROCESSOR arm)",
                 'set(CMAKE_C_COMPILER "/usr/bin/arm-linux-gnueabihf-gcc")',
                 'set(CMAKE_CXX_COMPILER "/usr/bin/arm-linux-gnueabihf-g++")',
                 'set(CMAKE_AR "/usr/bin/arm-linux-gnueabihf-ar")',
                 'set(CMAKE_FIND_ROOT_PATH "/usr/arm-linux-gnueabihf")',
                 "set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)",
                 "set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)",
                 'set(CMAKE_CROSSCOMPILING_EMULATOR "/opt/venv/bin/xarch;run;--target;armv7;--")'):
        assert line in text.splitlines()
    assert "CMAKE_SYSROOT" not in text  # Debian's cross gcc knows its own
    text = render(facts(pkg_config_dirs=("/usr/lib/arm-linux-gnueabihf/pkgconfig",
                                         "/usr/share/pkgconfig")), "cmake")
    assert ('set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/arm-linux-gnueabihf/pkgconfig:'
            '/usr/share/pkgconfig")') in text.splitlines()
    assert "PKG_CONFIG_SYSROOT_DIR" not in text
    clang = Compiler("clang", ("/usr/bin/clang", "--target=arm-linux-gnueabihf",
                               "--sysroot=/srv/rootfs"), "clang 14", "c")
    text = render(facts(cc=clang, cxx=None, sysroot="/srv/rootfs"), "cmake")
    assert ('set(CMAKE_C_COMPILER "/usr/bin/clang;--target=arm-linux-gnueabihf;'
            '--sysroot=/srv/rootfs")') in text
    assert 'set(CMAKE_SYSROOT "/srv/rootfs")' in text and "CMAKE_CXX_COMPILER" not in text
    assert 'set(ENV{PKG_CONFIG_SYSROOT_DIR} "/srv/rootfs")' in text


def test_meson_cross_file_has_binaries_wrapper_and_host_machine() -> None:
    text = render(facts(), "meson")
    assert "exe_wrapper = ['/opt/venv/bin/xarch', 'run', '--target', 'armv7', '--']" in text
    assert "c = ['/usr/bin/arm-linux-gnueabihf-gcc']" in text
    assert "cpu_family = 'arm'\ncpu = 'cortex-a7'\nendian = 'little'" in text
    assert "pkg-config = 'pkg-config'" in text  # the host's, reading the target's .pc files
    assert "pkg_config_libdir = ['/usr/share/pkgconfig']" in render(
        facts(pkg_config_dirs=("/usr/share/pkgconfig",)), "meson")
    board = facts(target=dataclasses.replace(facts().target, cpu="cortex-a15"))
    assert "cpu = 'cortex-a15'" in render(board, "meson")


def test_cargo_table_is_toml_for_the_rust_triple() -> None:
    table = tomllib.loads(render(facts(), "cargo"))
    assert table == {"target": {"armv7-unknown-linux-gnueabihf": {
        "linker": "/usr/bin/arm-linux-gnueabihf-gcc", "runner": list(EMULATOR)}}}
    zig = Compiler("zig", ("/usr/bin/python3", "-m", "ziglang", "cc"), "zig", "c")
    with pytest.raises(SetupError, match="cargo's linker is one program"):
        render(facts(cc=zig), "cargo")


def test_go_and_autotools_exports() -> None:
    go = render(facts(), "go")
    for line in ("export GOOS=linux", "export GOARCH=arm", "export GOARM=7",
                 "export CGO_ENABLED=1", "export CC=/usr/bin/arm-linux-gnueabihf-gcc",
                 "export XARCH_GO_EXEC='/opt/venv/bin/xarch run --target armv7 --'"):
        assert line in go.splitlines()
    assert "GOARM=5" in render(facts("armel"), "go")
    env = render(facts(), "env")
    for line in ("export XARCH_HOST=arm-linux-gnueabihf",
                 "export AR=/usr/bin/arm-linux-gnueabihf-ar",
                 "export LOG_COMPILER='/opt/venv/bin/xarch run --target armv7 --'"):
        assert line in env.splitlines()
    assert "XARCH_LIBTOOL_LOG_COMPILER" not in env  # a custom emulator: no libtool form
    libtool = (*EMULATOR[:-1], "--pass-library-path", "--")
    env = render(facts(libtool_emulator=libtool), "env")
    assert ("export XARCH_LIBTOOL_LOG_COMPILER='$(LIBTOOL) --mode=execute /opt/venv/bin/xarch "
            "run --target armv7 --pass-library-path --'") in env.splitlines()
