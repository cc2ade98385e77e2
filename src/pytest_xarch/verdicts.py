"""Clean verdicts of the check before a run, kept on disk so that repeat runs skip it.

`xarch run` is a new process for every program run (ctest starts one per test
case), so the check's fixed cost (importing pyelftools, reading the file,
resolving libraries) would be paid every time. A clean verdict depends on the
file, the target's settings, the library root and the library path, so it is
stored under a key made of those; the entry lists the files the verdict rests
on (the loader and every library it would load, e.g. a build tree's own) with
their change times, and a verdict whose files changed is checked again.
Findings are never cached: a binary with problems is checked, and explained,
every time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Optional

from .diskcache import entry_path, store_text
from .roots import LibraryRoot
from .targets import Target

_KIND = "check-verdicts"
_ROOT_DIRS = ("", "lib", "usr/lib", "lib64", "etc/ld.so.cache")


def _stamp(path: str | Path) -> str:
    try:
        info = os.stat(path)
    except OSError:
        return "-"
    return f"{info.st_ino}:{info.st_size}:{info.st_mtime_ns}:{info.st_ctime_ns}"


def _root_identity(root: Optional[LibraryRoot]) -> list[str]:
    if root is None:
        return ["-"]
    places = [root.tree, *([root.prefix] if root.prefix else [])]
    return [root.kind, *map(str, places),
            *(_stamp(place / sub) for place in places for sub in _ROOT_DIRS)]


def clean_verdict_entry(
    program: str, target: Target, root: Optional[LibraryRoot], env: Mapping[str, str]
) -> Optional[Path]:
    """Where a clean verdict for this exact program, target and root is kept."""
    from .version import __version__

    try:
        info = os.stat(program)
    except OSError:
        return None
    file_identity = (os.path.realpath(program), info.st_dev, info.st_ino, info.st_size,
                     info.st_mtime_ns, info.st_ctime_ns)
    return entry_path(
        _KIND, __version__, *map(str, file_identity), repr(target), *_root_identity(root),
        env.get("LD_LIBRARY_PATH", ""),
    )


def known_clean(entry: Optional[Path]) -> bool:
    """Whether a clean verdict is on record at `entry`, its files unchanged since."""
    if entry is None:
        return False
    try:
        lines = entry.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    for line in lines:
        path, _, stamp = line.rpartition("\t")
        if not path or _stamp(path) != stamp:
            return False
    return True


def remember_clean(entry: Optional[Path], inputs: Iterable[Path]) -> None:
    """Record a clean verdict resting on `inputs` (never an error if it cannot be written)."""
    if entry is not None:
        store_text(entry, "".join(f"{path}\t{_stamp(path)}\n" for path in inputs))


def precheck(program: str, target: Target, root: Optional[LibraryRoot],
             env: Mapping[str, str]) -> None:
    """The static check before a run (`runners.PreCheck`): SetupError on error findings,
    nothing when the program was checked clean before.

    LD_LIBRARY_PATH in `env` (the run's and the target's) counts as the loader's.
    """
    entry = clean_verdict_entry(program, target, root, env)
    if known_clean(entry):
        return
    from .checks import check_before_run

    remember_clean(entry, check_before_run(program, target, root=root, env=env))
