"""Cross compilers for a target, and a content-addressed build cache.

`find_compiler(target, lang)` picks, in order: the target's configured `cc` /
`cxx`; the GNU prefixed compiler (`aarch64-linux-gnu-gcc`); `clang
--target=<triple> --sysroot=<sysroot>` when a sysroot exists; `zig cc -target
<zig triple>` from the optional `ziglang` package. musl targets try zig first
(it links them statically and needs no sysroot).

`build(target, sources, cache_dir=...)` compiles once per content hash (sources
and the headers beside them, flags, compiler identity, target, language) into
`cache_dir/<key>/`. A `filelock.FileLock` per key makes concurrent processes
build it once; the artifact is built in a temporary directory renamed into place
only when complete, so a killed build never leaves a half-written artifact.
Every real build appends one line to `cache_dir/builds.log`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from .diskcache import user_cache_dir
from .errors import SetupError, XarchError
from .files import append_line, copy_atomic, make_temp_dir, sha256_of, write_atomic
from .process import run_tool
from .sysroot import find_sysroot
from .targets import Target, host_executes, host_target

__all__ = [
    "BuildError",
    "Compiler",
    "build",
    "build_key",
    "clear_compiler_cache",
    "default_cache_dir",
    "find_compiler",
    "trim_compiler_output",
    "zig_available",
]

LANGS = ("c", "c++")
_CXX_SUFFIXES = {".cc", ".cp", ".cpp", ".cxx", ".c++", ".C"}
_HEADER_SUFFIXES = {".h", ".hh", ".hpp", ".hxx", ".inc", ".inl", ".def"}
_KEY_VERSION = "1"  # bump when the layout or the build command changes
DEFAULT_BUILD_TIMEOUT = 600.0
BUILD_LOG = "builds.log"
MANIFEST = ".xarch-manifest"  # in each entry: its files and their SHA-256, checked on every hit

PathArg = Union[str, "os.PathLike[str]"]
SourceArg = Union[PathArg, Sequence[PathArg]]


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


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/pytest-xarch`, else `~/.cache/pytest-xarch` (XARCH_NO_CACHE aside)."""
    return user_cache_dir()


# ---------------------------------------------------------------------------- discovery


def _check_lang(lang: str) -> str:
    normalized = {"cxx": "c++", "cpp": "c++"}.get(lang, lang)
    if normalized not in LANGS:
        raise BuildError(f"unknown language {lang!r}: use \"c\" or \"c++\"")
    return normalized


def find_compiler(target: Target, lang: str = "c") -> Compiler:
    """The compiler that builds `lang` ("c" or "c++") for `target` on this host.

    Cached per process (and per PATH). Raises SetupError naming what to install.
    """
    return _find_compiler(target, _check_lang(lang), os.environ.get("PATH", ""))


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


def _as_paths(sources: SourceArg) -> list[Path]:
    items: Iterable[PathArg] = (
        [sources] if isinstance(sources, (str, os.PathLike)) else sources
    )
    paths = [Path(os.fspath(item)) for item in items]
    if not paths:
        raise BuildError("nothing to build: give at least one source file")
    for path in paths:
        if not path.is_file():
            raise BuildError(f"source file {path} does not exist")
    return paths


def _headers_beside(sources: Sequence[Path], flags: Sequence[str]) -> list[Path]:
    """Headers next to the sources and in `-I` directories (not recursive)."""
    folders = {source.resolve().parent for source in sources}
    for index, flag in enumerate(flags):
        if flag == "-I" and index + 1 < len(flags):
            folders.add(Path(flags[index + 1]))
        elif flag.startswith("-I") and len(flag) > 2:
            folders.add(Path(flag[2:]))
    headers: list[Path] = []
    for folder in sorted(folders):
        if folder.is_dir():
            headers += sorted(p for p in folder.iterdir()
                              if p.suffix in _HEADER_SUFFIXES and p.is_file())
    return headers


def build_key(
    target: Target, compiler: Compiler, sources: Sequence[Path], flags: Sequence[str],
    static: bool,
) -> str:
    """The content hash that names an artifact in the cache."""
    digest = hashlib.sha256()

    def add(text: str | bytes) -> None:
        data = text.encode() if isinstance(text, str) else text
        digest.update(len(data).to_bytes(8, "little") + data)

    for part in (_KEY_VERSION, target.name, compiler.lang, compiler.identity,
                 "static" if static else "default", *flags, "--"):
        add(part)
    for path in (*sources, *_headers_beside(sources, flags)):
        add(path.name)
        add(path.read_bytes())
    return digest.hexdigest()[:32]


def build(
    target: Target,
    sources: SourceArg,
    *,
    output: Optional[PathArg] = None,
    cflags: Sequence[str] = (),
    ldflags: Sequence[str] = (),
    static: bool = False,
    lang: str = "c",
    cache_dir: PathArg,
    timeout: float = DEFAULT_BUILD_TIMEOUT,
) -> Path:
    """Compile `sources` for `target` (cached) and return the artifact's path.

    `lang` is "c" or "c++" (C++ is chosen anyway when a source has a C++
    suffix). With `output`, the artifact is also copied there and that path is
    returned. Raises BuildError with the compiler's trimmed message on failure,
    or with the static checker's error findings.
    """
    from filelock import FileLock, Timeout

    paths = _as_paths(sources)
    lang = _check_lang(lang)
    if lang == "c" and any(path.suffix in _CXX_SUFFIXES for path in paths):
        lang = "c++"
    compiler = find_compiler(target, lang)
    flags = [*target.cflags, *cflags]
    links = [*target.ldflags, *ldflags, *(["-static"] if static else [])]
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    key = build_key(target, compiler, paths, [*flags, "--", *links], static)
    final = cache / key / paths[0].stem
    try:
        with FileLock(str(cache / f"{key}.lock"), timeout=timeout + 60):
            if not _intact(final.parent):
                shutil.rmtree(final.parent, ignore_errors=True)  # damaged: build it again
                _build_locked(target, compiler, paths, flags, links, cache, key, final, timeout)
    except Timeout:
        raise BuildError(
            f"another process has been building {final} for over {timeout + 60:g}s; "
            f"if none is running, delete {cache / (key + '.lock')}"
        ) from None
    if output is None:
        return final
    destination = Path(os.fspath(output))
    copy_atomic(final, destination)  # replaces a symlink at `destination`, never follows it
    return destination


def _intact(folder: Path) -> bool:
    """Whether a cache entry holds exactly the files its manifest lists, unaltered."""
    try:
        recorded = json.loads((folder / MANIFEST).read_text("utf-8"))["files"]
        present = {path.name for path in folder.iterdir()} - {MANIFEST}
        return present == set(recorded) and all(
            (folder / name).is_file() and not (folder / name).is_symlink()
            and sha256_of(folder / name) == digest
            for name, digest in recorded.items()
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _write_manifest(folder: Path) -> None:
    files = {path.name: sha256_of(path) for path in folder.iterdir() if path.is_file()}
    write_atomic(folder / MANIFEST, json.dumps({"files": files}, indent=1) + "\n")


def _build_locked(
    target: Target, compiler: Compiler, sources: Sequence[Path], flags: Sequence[str],
    links: Sequence[str], cache: Path, key: str, final: Path, timeout: float,
) -> None:
    """Build into a temporary directory and rename it to `cache/key` (lock held)."""
    for stale in cache.glob(f".tmp-{key}-*"):  # left by a build that was killed
        shutil.rmtree(stale, ignore_errors=True)
    staging = make_temp_dir(cache, f".tmp-{key}-")
    try:
        artifact = staging / final.name
        argv = [*compiler.argv, *flags, "-o", str(artifact),
                *(str(path.resolve()) for path in sources), *links]
        start = time.monotonic()
        completed = run_tool(argv, timeout=timeout, cwd=str(staging))
        if completed.returncode != 0 or not artifact.is_file():
            log = cache / f"failed-{key}.log"
            write_atomic(log, f"$ {shlex.join(argv)}\n{completed.stdout}{completed.stderr}")
            raise BuildError(_failure_message(target, compiler, sources, completed, log))
        _check_artifact(artifact, target)
        _write_manifest(staging)
        os.rename(staging, final.parent)
        staging = Path()  # now owned by the cache
        elapsed = time.monotonic() - start
        line = (f"{time.strftime('%Y-%m-%dT%H:%M:%S')}\t{key}\t{target.name}\t{compiler.kind}"
                f"\t{elapsed:.2f}s\t{' '.join(path.name for path in sources)}\n")
        append_line(cache / BUILD_LOG, line)
    finally:
        if staging != Path():
            shutil.rmtree(staging, ignore_errors=True)


def _failure_message(
    target: Target, compiler: Compiler, sources: Sequence[Path],
    completed: subprocess.CompletedProcess[str], log: Path,
) -> str:
    returncode = completed.returncode
    text = f"{completed.stdout}{completed.stderr}"
    names = " ".join(path.name for path in sources)
    how = "was killed" if returncode < 0 else f"failed (exit {returncode})"
    return (
        f"building {names} for target '{target.name}' with {compiler.kind} "
        f"({os.path.basename(compiler.path)}) {how}:\n{trim_compiler_output(text)}\n"
        f"(full compiler output: {log})"
    )


_IMPORTANT = re.compile(
    r"(\berror\b|\bError\b|undefined reference|multiple definition|cannot find|"
    r"No such file|\[killed after)",
)
_EXCERPT = re.compile(r"^\s*(\d+\s*)?\|")  # gcc/clang source excerpt and caret lines


def trim_compiler_output(text: str, limit: int = 20) -> str:
    """The lines of a compiler's output that say what went wrong, at most `limit`.

    Keeps error lines (with the source excerpt that follows each), drops warnings,
    notes and "In function" chatter; falls back to the last lines when no line
    looks like an error.
    """
    lines = text.rstrip().splitlines()
    kept: list[str] = []
    keep_excerpt = False
    for line in lines:
        if _IMPORTANT.search(line) and "warning:" not in line and "note:" not in line:
            kept.append(line)
            keep_excerpt = True
        elif keep_excerpt and _EXCERPT.match(line):
            kept.append(line)
        else:
            keep_excerpt = False
    if not kept:
        kept = lines[-limit:]
    if len(kept) > limit:
        dropped = len(kept) - limit
        kept = [*kept[:limit], f"... ({dropped} more lines)"]
    return "\n".join(kept)


def _check_artifact(artifact: Path, target: Target) -> None:
    """Run the static checker on a fresh artifact; error findings fail the build."""
    from .checks import check_file, errors

    findings = errors(check_file(artifact, target))
    if findings:
        lines = "\n".join(f"  {finding.code}: {finding.message}" for finding in findings)
        raise BuildError(
            f"{artifact.name} built for target '{target.name}' fails static verification:\n"
            f"{lines}"
        )
