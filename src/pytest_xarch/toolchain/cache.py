"""The content-addressed build cache: `build(target, sources, cache_dir=...)`.

It compiles once per content hash (sources and the headers beside them, flags,
compiler identity, target, language) into `cache_dir/<key>/`. A
`filelock.FileLock` per key makes concurrent processes build it once; the
artifact is built in a temporary directory renamed into place only when
complete, so a killed build never leaves a half-written artifact, and every hit
checks the entry's manifest, so a damaged one is built again. Every real build
appends one line to `cache_dir/builds.log`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Optional, Union

from ..feedback import slow
from ..files import append_line, copy_atomic, make_temp_dir, sha256_of, write_atomic
from ..process import run_tool
from ..targets import Target
from .compilers import CXX_SUFFIXES, BuildError, Compiler, check_lang, find_compiler

_HEADER_SUFFIXES = {".h", ".hh", ".hpp", ".hxx", ".inc", ".inl", ".def"}
_KEY_VERSION = "1"  # bump when the layout or the build command changes
DEFAULT_BUILD_TIMEOUT = 600.0
BUILD_LOG = "builds.log"
MANIFEST = ".xarch-manifest"  # in each entry: its files and their SHA-256, checked on every hit

PathArg = Union[str, "os.PathLike[str]"]
SourceArg = Union[PathArg, Sequence[PathArg]]


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
    lang = check_lang(lang)
    if lang == "c" and any(path.suffix in CXX_SUFFIXES for path in paths):
        lang = "c++"
    compiler = find_compiler(target, lang)
    flags = [*target.cflags, *cflags]
    links = [*target.ldflags, *ldflags, *(["-static"] if static else [])]
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    key = build_key(target, compiler, paths, [*flags, "--", *links], static)
    final = cache / key / paths[0].stem
    try:
        with slow(_building(target, compiler, paths)), \
                FileLock(str(cache / f"{key}.lock"), timeout=timeout + 60):
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


def _building(target: Target, compiler: Compiler, sources: Sequence[Path]) -> str:
    """What a build that takes long says it is doing (see `feedback.slow`)."""
    names = " ".join(path.name for path in sources)
    line = f"building {names} for {target.name} with {compiler.kind}"
    if compiler.kind == "zig":
        line += " (zig builds the target's libc on its first use: up to two minutes)"
    return line


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
    from ..checks import check_file, errors

    findings = errors(check_file(artifact, target))
    if findings:
        lines = "\n".join(f"  {finding.code}: {finding.message}" for finding in findings)
        raise BuildError(
            f"{artifact.name} built for target '{target.name}' fails static verification:\n"
            f"{lines}"
        )
