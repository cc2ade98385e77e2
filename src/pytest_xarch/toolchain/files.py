"""The files users otherwise write by hand for a target: a CMake toolchain file, a Meson cross
file, a cargo target table, Go's variables and autotools exports.

Each is written from what pytest-xarch already knows of the target (its triples, the
compilers found here, its sysroot, CPU and runner), and names `xarch run` (or a command
given instead) as the emulator, so that builds, ctest, `meson test`, `cargo test`,
`go test -exec` and `make check` run target programs the way pytest-xarch does.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable, Optional

from ..errors import SetupError
from ..targets import Target
from .compilers import Compiler, find_compiler

# What the generated emulator script unsets by name (a shell cannot cheaply list the
# environment): the variables glibc's loader and QEMU user-mode read, and the
# allocator's. `xarch run` drops every LD_* and QEMU_* (runners.environment).
_LOADER_VARIABLES = (
    "LD_AUDIT", "LD_BIND_NOT", "LD_BIND_NOW", "LD_DEBUG", "LD_DEBUG_OUTPUT", "LD_DYNAMIC_WEAK",
    "LD_HWCAP_MASK", "LD_LIBRARY_PATH", "LD_ORIGIN_PATH", "LD_PREFER_MAP_32BIT_EXEC",
    "LD_PRELOAD", "LD_PROFILE", "LD_PROFILE_OUTPUT", "LD_SHOW_AUXV", "LD_TRACE_LOADED_OBJECTS",
    "LD_USE_LOAD_BIAS", "LD_VERBOSE", "LD_WARN", "GLIBC_TUNABLES", "MALLOC_CHECK_",
    "MALLOC_PERTURB_",
)
_QEMU_VARIABLES = (
    "QEMU_ARGV0", "QEMU_CPU", "QEMU_DFILTER", "QEMU_GDB", "QEMU_GUEST_BASE", "QEMU_LD_PREFIX",
    "QEMU_LOG", "QEMU_LOG_FILENAME", "QEMU_PLUGIN", "QEMU_RAND_SEED", "QEMU_RESERVED_VA",
    "QEMU_SET_ENV", "QEMU_SINGLESTEP", "QEMU_STACK_SIZE", "QEMU_STRACE", "QEMU_UNSET_ENV",
)
_KILL_AFTER = 5  # seconds between timeout's TERM and its KILL

FORMATS = ("cmake", "meson", "cargo", "go", "env", "emulator")

# `uname -m` of each instruction set (CMAKE_SYSTEM_PROCESSOR) and Meson's cpu_family.
_PROCESSOR = {"aarch64": "aarch64", "arm": "arm", "riscv64": "riscv64", "ppc64le": "ppc64le",
              "s390x": "s390x", "i386": "i686", "x86_64": "x86_64"}
# GOARCH of each instruction set, for targets no Go platform names alone (armel: arm, GOARM=5).
_GOARCH = {"aarch64": "arm64", "arm": "arm", "riscv64": "riscv64", "ppc64le": "ppc64le",
           "s390x": "s390x", "i386": "386", "x86_64": "amd64"}
_MESON_FAMILY = {"aarch64": "aarch64", "arm": "arm", "riscv64": "riscv64", "ppc64le": "ppc64",
                 "s390x": "s390x", "i386": "x86", "x86_64": "x86_64"}


@dataclass(frozen=True)
class ToolchainFacts:
    """What the files say: the target, its compilers, binutils, sysroot and emulator."""

    target: Target
    cc: Compiler
    cxx: Optional[Compiler]
    emulator: tuple[str, ...]
    sysroot: Optional[str]  # a root the compiler must be told of (configured, or clang's)
    find_roots: tuple[str, ...]  # where CMake looks for the target's libraries and headers
    tools: dict[str, str]  # ar, strip, ranlib, pkg-config: the target's own, when installed
    pkg_config_dirs: tuple[str, ...] = ()  # where the target's .pc files are (not the host's)
    emulation_factor: float = 5.0  # the emulator script's timeout: the target's, times this
    # The emulator under `libtool --mode=execute` (xarch run passing libtool's library path);
    # None for an emulator given instead of xarch run.
    libtool_emulator: Optional[tuple[str, ...]] = None

    @property
    def cpu(self) -> str:
        return self.target.cpu or self.target.baseline_cpu


def xarch_command() -> list[str]:
    """How to start `xarch` from outside this process: the console script beside this
    Python, else `python -m pytest_xarch.cli`."""
    script = os.path.join(os.path.dirname(sys.executable), "xarch")
    if os.access(script, os.X_OK):
        return [script]
    return [sys.executable, "-m", "pytest_xarch.cli"]


def gather(target: Target, emulator: Optional[Sequence[str]] = None, *,
           emulation_factor: float = 5.0) -> ToolchainFacts:
    """The facts for `target` on this machine (SetupError naming the package without a C
    compiler for it)."""
    cc = find_compiler(target, "c")
    try:
        cxx: Optional[Compiler] = find_compiler(target, "c++")
    except SetupError:
        cxx = None
    sysroot = target.sysroot or _flag_value(cc.argv, "--sysroot=")
    trees = [sysroot] if sysroot else [f"/usr/{target.triple}"]
    if not sysroot and target.debian_arch and os.path.isdir(f"/usr/lib/{target.triple}"):
        trees.append("/")  # Debian multiarch: /usr/lib/<triple> holds the target's libraries
    tools = {}
    for tool in ("ar", "strip", "ranlib", "pkg-config"):
        found = shutil.which(f"{target.triple}-{tool}")
        if found:
            tools[tool] = found
    xarch_run = (*xarch_command(), "run", "--target", target.name)
    return ToolchainFacts(
        target, cc, cxx, tuple(emulator or (*xarch_run, "--")), sysroot,
        tuple(path for path in trees if os.path.isdir(path)), tools,
        _pkg_config_dirs(target, sysroot), emulation_factor,
        None if emulator else (*xarch_run, "--pass-library-path", "--"))


def _pkg_config_dirs(target: Target, sysroot: Optional[str]) -> tuple[str, ...]:
    """The target's pkg-config directories: the sysroot's, else Debian's multiarch and
    cross-tree ones, and the architecture-independent one."""
    if sysroot:  # paths inside it; PKG_CONFIG_SYSROOT_DIR maps what the .pc files say
        return (f"{sysroot}/usr/lib/{target.triple}/pkgconfig", f"{sysroot}/usr/lib/pkgconfig",
                f"{sysroot}/usr/share/pkgconfig")
    return (f"/usr/lib/{target.triple}/pkgconfig", f"/usr/{target.triple}/lib/pkgconfig",
            "/usr/share/pkgconfig")


def render(facts: ToolchainFacts, form: str) -> str:
    """The file of format `form` (one of FORMATS)."""
    writers: dict[str, Callable[[ToolchainFacts], str]] = {
        "cmake": cmake_toolchain, "meson": meson_cross_file, "cargo": cargo_config,
        "go": go_environment, "env": autotools_environment, "emulator": emulator_script,
    }
    return writers[form](facts)


def _header(facts: ToolchainFacts, form: str, comment: str = "#") -> str:
    from ..version import __version__

    return (f"{comment} {form} for target {facts.target.name} ({facts.target.title}), written by "
            f"`xarch toolchain --target {facts.target.name} --format {form}` "
            f"(pytest-xarch {__version__}).\n")


def cmake_toolchain(facts: ToolchainFacts) -> str:
    """A CMake toolchain file (`-DCMAKE_TOOLCHAIN_FILE=`)."""
    target = facts.target
    lines = [
        _header(facts, "cmake").rstrip(),
        "set(CMAKE_SYSTEM_NAME Linux)",
        f"set(CMAKE_SYSTEM_PROCESSOR {_PROCESSOR.get(target.qemu, target.qemu)})",
        f"set(CMAKE_C_COMPILER {_cmake_list(facts.cc.argv)})",
    ]
    if facts.cxx:
        lines.append(f"set(CMAKE_CXX_COMPILER {_cmake_list(facts.cxx.argv)})")
    if target.cflags:
        flags = shlex.join(target.cflags)
        lines += [f'set(CMAKE_C_FLAGS_INIT "{flags}")', f'set(CMAKE_CXX_FLAGS_INIT "{flags}")']
    if target.ldflags:
        flags = shlex.join(target.ldflags)
        lines += [f'set(CMAKE_EXE_LINKER_FLAGS_INIT "{flags}")',
                  f'set(CMAKE_SHARED_LINKER_FLAGS_INIT "{flags}")']
    if facts.sysroot:
        lines.append(f"set(CMAKE_SYSROOT {_cmake_quote(facts.sysroot)})")
    for tool, variable in (("ar", "CMAKE_AR"), ("ranlib", "CMAKE_RANLIB"),
                           ("strip", "CMAKE_STRIP")):
        if tool in facts.tools:
            lines.append(f"set({variable} {_cmake_quote(facts.tools[tool])})")
    if facts.find_roots:
        lines.append(f"set(CMAKE_FIND_ROOT_PATH {_cmake_list(facts.find_roots)})")
    lines.append("# pkg-config reads the target's .pc files, never the host's.")
    if "pkg-config" in facts.tools:
        lines.append(f"set(PKG_CONFIG_EXECUTABLE {_cmake_quote(facts.tools['pkg-config'])})")
    lines.append(f"set(ENV{{PKG_CONFIG_LIBDIR}} {_cmake_quote(':'.join(facts.pkg_config_dirs))})")
    if facts.sysroot:
        lines.append(f"set(ENV{{PKG_CONFIG_SYSROOT_DIR}} {_cmake_quote(facts.sysroot)})")
    lines += [
        "# Programs from the host; libraries, headers and packages from the target's root.",
        "set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)",
        "set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)",
        "set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)",
        "set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)",
        "# Runs target programs for add_test(), try_run() and gtest_discover_tests().",
        f"set(CMAKE_CROSSCOMPILING_EMULATOR {_cmake_list(facts.emulator)})",
    ]
    return "\n".join(lines) + "\n"


def meson_cross_file(facts: ToolchainFacts) -> str:
    """A Meson cross file (`meson setup --cross-file`)."""
    target = facts.target
    binaries = [f"c = {_meson_list(facts.cc.argv)}"]
    if facts.cxx:
        binaries.append(f"cpp = {_meson_list(facts.cxx.argv)}")
    tools = {"pkg-config": "pkg-config", **facts.tools}  # the host's, on the target's .pc files
    binaries += [f"{tool} = {_meson_str(path)}" for tool, path in tools.items()]
    binaries.append(f"exe_wrapper = {_meson_list(facts.emulator)}")
    lines = [_header(facts, "meson").rstrip(), "[binaries]", *binaries, ""]
    if target.cflags or target.ldflags or facts.sysroot:
        lines += ["[built-in options]"]
        if target.cflags:
            lines += [f"c_args = {_meson_list(target.cflags)}",
                      f"cpp_args = {_meson_list(target.cflags)}"]
        if target.ldflags:
            lines += [f"c_link_args = {_meson_list(target.ldflags)}",
                      f"cpp_link_args = {_meson_list(target.ldflags)}"]
        lines.append("")
    lines += ["[properties]", f"pkg_config_libdir = {_meson_list(facts.pkg_config_dirs)}"]
    if facts.sysroot:
        lines.append(f"sys_root = {_meson_str(facts.sysroot)}")
    lines.append("")
    lines += [
        "[host_machine]",
        "system = 'linux'",
        f"cpu_family = {_meson_str(_MESON_FAMILY.get(target.qemu, target.qemu))}",
        f"cpu = {_meson_str(facts.cpu)}",
        f"endian = {_meson_str(target.endian)}",
    ]
    return "\n".join(lines) + "\n"


def cargo_config(facts: ToolchainFacts) -> str:
    """A cargo `[target.<rust triple>]` table (`.cargo/config.toml`)."""
    target = facts.target
    if not target.rust:
        raise SetupError(f"target '{target.name}' has no Rust triple: cargo cannot build for it")
    if len(facts.cc.argv) > 1:
        raise SetupError(
            f"cargo's linker is one program, and target '{target.name}' compiles with "
            f"{shlex.join(facts.cc.argv)}: install {target.triple}-gcc (or set cc to one "
            "program) for a cargo configuration")
    return "\n".join([
        _header(facts, "cargo").rstrip(),
        f"[target.{target.rust}]",
        f"linker = {_toml_str(facts.cc.argv[0])}",
        f"runner = [{', '.join(_toml_str(word) for word in facts.emulator)}]",
    ]) + "\n"


def go_environment(facts: ToolchainFacts) -> str:
    """Shell exports for `go build`/`go test` with cgo, and the `-exec` runner."""
    target = facts.target
    goos, goarch = target.go.split("/")[:2] if target.go else ("linux", _GOARCH[target.qemu])
    values = {"GOOS": goos, "GOARCH": goarch}
    if goarch == "arm":
        values["GOARM"] = "7" if target.float_abi == "hard" else "5"
    values.update(CGO_ENABLED="1", CC=shlex.join(facts.cc.argv))
    if facts.cxx:
        values["CXX"] = shlex.join(facts.cxx.argv)
    lines = [_header(facts, "go").rstrip()]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in values.items()]
    lines += ["# go test -exec \"$XARCH_GO_EXEC\" ./...",
              f"export XARCH_GO_EXEC={shlex.quote(shlex.join(facts.emulator))}"]
    return "\n".join(lines) + "\n"


def autotools_environment(facts: ToolchainFacts) -> str:
    """Shell exports for `./configure --host` and `make check` (LOG_COMPILER)."""
    target = facts.target
    values = {"XARCH_HOST": target.triple, "CC": shlex.join(facts.cc.argv)}
    if facts.cxx:
        values["CXX"] = shlex.join(facts.cxx.argv)
    for tool, name in (("ar", "AR"), ("ranlib", "RANLIB"), ("strip", "STRIP"),
                       ("pkg-config", "PKG_CONFIG")):
        if tool in facts.tools:
            values[name] = facts.tools[tool]
    values["PKG_CONFIG_LIBDIR"] = ":".join(facts.pkg_config_dirs)
    if facts.sysroot:
        values["PKG_CONFIG_SYSROOT_DIR"] = facts.sysroot
    if target.cflags:
        values["CFLAGS"] = shlex.join(target.cflags)
    if target.ldflags:
        values["LDFLAGS"] = shlex.join(target.ldflags)
    values["LOG_COMPILER"] = shlex.join(facts.emulator)
    lines = [_header(facts, "env").rstrip(),
             "# ./configure --host=\"$XARCH_HOST\" && make && make check"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in values.items()]
    if facts.libtool_emulator:
        # libtool's wrapper scripts: libtool runs the real program with the build tree's
        # library path, which `xarch run --pass-library-path` gives the guest.
        libtool = facts.libtool_emulator
        lines += ["# Test programs linked with the project's libtool libraries:",
                  "# make check LOG_COMPILER=\"$XARCH_LIBTOOL_LOG_COMPILER\"",
                  "export XARCH_LIBTOOL_LOG_COMPILER="
                  f"{shlex.quote('$(LIBTOOL) --mode=execute ' + shlex.join(libtool))}"]
    return "\n".join(lines) + "\n"


def emulator_script(facts: ToolchainFacts) -> str:
    """A POSIX shell script that runs the target's programs as `xarch run` does, without
    starting Python: the same QEMU command line (root, pinned CPU), a guest environment
    without the loader's and QEMU's variables, XARCH_TARGET/FIDELITY/RUNNER, and a
    timeout that kills the program's process group (exit 124, as timeout(1) and
    `xarch run` do). It does not check the program first, filter QEMU's signal banner or
    log unimplemented syscalls: `xarch run` does, for a run that needs explaining."""
    from ..runners import default_timeout as run_timeout
    from ..runners import runner_for

    target = facts.target
    runner = runner_for(target)
    if runner.kind not in ("qemu", "native"):
        raise SetupError(f"target '{target.name}' runs through its {runner.kind} runner: the "
                         "emulator script covers QEMU and native runs; use `xarch run` for it")
    runner.ready()
    prefix = runner.prefix()
    timeout = run_timeout(target, runner, facts.emulation_factor)
    lines = [
        "#!/bin/sh",
        _header(facts, "emulator").rstrip(),
        "# Usage: THIS PROGRAM [ARGS...], e.g. as CMAKE_CROSSCOMPILING_EMULATOR.",
        f"unset {' '.join(_LOADER_VARIABLES)}",
        f"unset {' '.join(_QEMU_VARIABLES)}",
        "ulimit -c 0  # no qemu_*.core files where a crashed program ran",
        f"export XARCH_TARGET={shlex.quote(target.name)}",
        f"export XARCH_FIDELITY={shlex.quote(str(runner.fidelity))}",
        f"export XARCH_RUNNER={shlex.quote(shlex.join(prefix))}",
        f"exec timeout --kill-after={_KILL_AFTER} {timeout:g} {shlex.join(prefix)} \"$@\"",
    ]
    return "\n".join(lines) + "\n"


def _flag_value(argv: Sequence[str], prefix: str) -> Optional[str]:
    return next((word[len(prefix):] for word in argv if word.startswith(prefix)), None)


def _cmake_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _cmake_list(words: Sequence[str]) -> str:
    """One CMake list value (a `;`-list), quoted."""
    return _cmake_quote(";".join(words))


def _meson_str(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _meson_list(words: Sequence[str]) -> str:
    return "[" + ", ".join(_meson_str(word) for word in words) + "]"


def _toml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
