"""Clean verdicts of the check before a run, kept on disk so that repeat runs skip it.

`xarch run` is a new process for every program run (ctest starts one per test
case), so the check's fixed cost (importing pyelftools, reading the file,
resolving libraries) would be paid every time. A clean verdict depends only on
the file, the target's settings, the sysroot and the library path, so it is
stored under a key made of those. Findings are never cached: a binary with
problems is checked, and explained, every time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

from .diskcache import entry_path, store_text
from .targets import Target

_KIND = "check-verdicts"


def _stamp(path: Path) -> str:
    try:
        return str(os.stat(path).st_mtime_ns)
    except OSError:
        return "-"


def clean_verdict_entry(
    program: str, target: Target, sysroot: Optional[Path], env: Mapping[str, str]
) -> Optional[Path]:
    """Where a clean verdict for this exact program, target and sysroot is kept."""
    from .version import __version__

    try:
        info = os.stat(program)
    except OSError:
        return None
    file_identity = (os.path.realpath(program), info.st_dev, info.st_ino, info.st_size,
                     info.st_mtime_ns, info.st_ctime_ns)
    root_stamps = (
        [str(sysroot), *(_stamp(sysroot / sub) for sub in ("", "lib", "usr/lib", "lib64"))]
        if sysroot is not None else ["-"]
    )
    return entry_path(
        _KIND, __version__, *map(str, file_identity), repr(target), *root_stamps,
        env.get("LD_LIBRARY_PATH", ""),
    )


def known_clean(entry: Optional[Path]) -> bool:
    """Whether a clean verdict is on record at `entry`."""
    return entry is not None and entry.exists()


def remember_clean(entry: Optional[Path]) -> None:
    """Record a clean verdict (never an error if the cache cannot be written)."""
    if entry is not None:
        store_text(entry, "")


def precheck(program: str, target: Target, sysroot: Optional[Path],
             env: Mapping[str, str]) -> None:
    """The static check before a run (`runners.PreCheck`): SetupError on error findings,
    nothing when the program was checked clean before.

    LD_LIBRARY_PATH in `env` (the run's and the target's) counts as the loader's.
    """
    entry = clean_verdict_entry(program, target, sysroot, env)
    if known_clean(entry):
        return
    from .checks import check_before_run

    check_before_run(program, target, sysroot=sysroot, env=env)
    remember_clean(entry)
