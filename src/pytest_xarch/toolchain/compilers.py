"""Finding a target's compiler: configured, GNU prefixed, clang with a sysroot, or zig.

`find_compiler(target, lang)` picks, in order: the target's configured `cc` /
`cxx`; the GNU prefixed compiler (`aarch64-linux-gnu-gcc`); `clang
--target=<triple> --sysroot=<sysroot>` when a sysroot exists; `zig cc -target
<zig triple>` from the optional `ziglang` package. musl targets try zig first
(it links them statically and needs no sysroot).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from typing import Optional

from ..errors import SetupError, XarchError
from ..process import run_tool
from ..sysroot import find_sysroot
from ..targets import Target, host_executes, host_target

LANGS = ("c", "c++")
CXX_SUFFIXES = {".cc", ".cp", ".cpp", ".cxx", ".c++", ".C"}


class BuildError(XarchError):
    """A build that failed: the compiler's own (trimmed) message, or a failed static check."""


@dataclass(frozen=True)
class Compiler:
    """A compiler for one target and language, ready to be prefixed to arguments."""

    kind: str  # "config", "gcc", "clang" or "zig"
    argv: tuple[str, ...]  # e.g. ("/usr/bin/aarch64-linux-gnu-gcc",)
    identity: str  # path and first line of `--version`: part of every cache key
    lang: str = "c"

    @property
    def path(self) -> str:
        """The executable that is run (the Python interpreter for zig)."""
        return self.argv[0]

    def describe(self) -> str:
        """The command, short: `aarch64-linux-gnu-gcc`, `zig cc -target aarch64-linux-musl`."""
        if self.kind == "zig":
            return shlex.join(["zig", *self.argv[3:]])
        return shlex.join([os.path.basename(self.argv[0]), *self.argv[1:]])


def check_lang(lang: str) -> str:
    normalized = {"cxx": "c++", "cpp": "c++"}.get(lang, lang)
    if normalized not in LANGS:
        raise BuildError(f"unknown language {lang!r}: use \"c\" or \"c++\"")
    return normalized


def find_compiler(target: Target, lang: str = "c") -> Compiler:
    """The compiler that builds `lang` ("c" or "c++") for `target` on this host.

    Cached per process (and per PATH). Raises SetupError naming what to install.
    """
    return _find_compiler(target, check_lang(lang), os.environ.get("PATH", ""))


def clear_compiler_cache() -> None:
    """Forget discovered compilers (after installing one, or in tests)."""
    _find_compiler.cache_clear()
    _identity.cache_clear()


@functools.cache
def _find_compiler(target: Target, lang: str, _path: str) -> Compiler:
    configured = target.cxx if lang == "c++" else target.cc
    if configured:
        return _configured(target, lang, configured)
    finders = [("gcc", _gnu), ("clang", _clang), ("zig", _zig)]
    if target.libc == "musl":
        finders = [finders[2], finders[0], finders[1]]
    for kind, finder in finders:
        argv = finder(target, lang)
        if argv:
            return Compiler(kind, tuple(argv), _identity(tuple(argv)), lang)
    raise SetupError(_not_found_message(target, lang))


def _configured(target: Target, lang: str, command: str) -> Compiler:
    argv = shlex.split(command)
    key = "cxx" if lang == "c++" else "cc"
    executable = shutil.which(argv[0]) if argv else None
    if not executable:
        raise SetupError(
            f"target '{target.name}' sets {key} = {command!r}, but {argv[0] if argv else '(empty)'}"
            " is not an executable on PATH: install it or fix the setting"
        )
    argv[0] = executable
    return Compiler("config", tuple(argv), _identity(tuple(argv)), lang)


def _gnu(target: Target, lang: str) -> Optional[list[str]]:
    driver = "g++" if lang == "c++" else "gcc"
    names = [f"{target.triple}-{driver}"]
    if host_executes(target):
        if target.libc == host_target().libc:
            names.append(driver)  # the host's own compiler builds for the host
        elif target.libc == "musl" and lang == "c":
            names.append("musl-gcc")  # Debian's musl-tools wrapper
    for name in names:
        path = shutil.which(name)
        if path:
            return [path]
    return None


def _clang(target: Target, lang: str) -> Optional[list[str]]:
    path = shutil.which("clang++" if lang == "c++" else "clang")
    sysroot = find_sysroot(target) if path else None
    if not path or sysroot is None:
        return None
    return [path, f"--target={target.triple}", f"--sysroot={sysroot}"]


def _zig(target: Target, lang: str) -> Optional[list[str]]:
    if not target.zig or not zig_available():
        return None
    zig_target = target.zig
    if target.libc == "glibc" and target.glibc:
        zig_target = f"{zig_target}.{target.glibc}"  # link against the target's glibc floor
    return [sys.executable, "-m", "ziglang", "c++" if lang == "c++" else "cc",
            "-target", zig_target]


def zig_available() -> bool:
    """Whether the optional `ziglang` package (pytest-xarch[zig]) is importable."""
    return importlib.util.find_spec("ziglang") is not None


@functools.cache
def _identity(argv: tuple[str, ...]) -> str:
    """`<command> | <first line of --version>` (and the ziglang version for zig)."""
    completed = run_tool([*argv, "--version"], timeout=60)
    first = (completed.stdout or completed.stderr).strip().splitlines()
    version = first[0] if first else f"exit {completed.returncode}"
    if "ziglang" in argv:
        from importlib.metadata import version as dist_version

        version = f"ziglang {dist_version('ziglang')}; {version}"
    return f"{shlex.join(argv)} | {version}"


def _not_found_message(target: Target, lang: str) -> str:
    word = "C++" if lang == "c++" else "C"
    driver = "g++" if lang == "c++" else "gcc"
    wanted = [p for p in target.packages if p.startswith(driver) or p.startswith("libc6-dev")]
    if target.libc == "musl" and not wanted:
        wanted = [p for p in target.packages if p]
    install = f"apt-get install {' '.join(wanted)}, or " if wanted else ""
    looked = f"{target.triple}-{driver}, clang with a sysroot"
    return (
        f"no {word} compiler for target '{target.name}' (looked for {looked} and zig): "
        f"{install}pip install 'pytest-xarch[zig]' (zig cc builds for every target), "
        f"or set {'cxx' if lang == 'c++' else 'cc'} in [tool.pytest_xarch.target.{target.name}]"
    )


# ---------------------------------------------------------------------------- building


