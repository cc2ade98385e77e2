"""What a QEMU binary says about itself (`--version`, `-cpu help`), cached on disk.

Every `xarch run` is a new process (ctest, `go test -exec` and cargo start one per
test binary), so asking QEMU once per process still costs two extra emulator
start-ups per run. The answers only change when the binary does: they are kept
in `$XDG_CACHE_HOME/pytest-xarch/qemu/` (default `~/.cache`), one file per
(binary path, size, mtime, question), written to a temporary file and renamed
into place, so a reader sees a whole answer or none. `XARCH_NO_CACHE=1` or an
unwritable cache directory just means asking QEMU every time.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from ..diskcache import entry_path, store_text
from ..process import run_tool


def _entry(qemu_path: str, args: Sequence[str]) -> Optional[Path]:
    try:
        real = os.path.realpath(qemu_path)
        info = os.stat(real)
    except OSError:
        return None
    return entry_path("qemu", real, str(info.st_size), str(info.st_mtime_ns), *args)


def startup_problem(qemu_path: str, args: Sequence[str], *, timeout: float = 10) -> str:
    """Why QEMU refuses to start with `args` (a bad -cpu feature, an unknown option), or "".

    QEMU is pointed at /dev/null: it parses the options and creates the CPU, then
    fails to load the "program" without a word (its message goes to a buffered
    stdout it never flushes). Anything it does say is the refusal. Cached like
    the other answers.
    """
    entry = _entry(qemu_path, ["startup", *args])
    if entry is not None:
        with contextlib.suppress(OSError):
            return entry.read_text("utf-8")
    completed = run_tool([qemu_path, *args, os.devnull], timeout=timeout)
    if completed.returncode < 0:  # killed: no answer worth keeping
        return ""
    said = (completed.stderr.strip() or completed.stdout.strip()).splitlines()
    answer = said[0] if said else ""
    if entry is not None:
        store_text(entry, answer)
    return answer


def qemu_says(qemu_path: str, args: Sequence[str], *, timeout: float = 10) -> str:
    """Standard output of `qemu_path ARGS`, from the cache when the binary is unchanged."""
    entry = _entry(qemu_path, args)
    if entry is not None:
        with contextlib.suppress(OSError):
            return entry.read_text("utf-8")
    completed = run_tool([qemu_path, *args], timeout=timeout)
    # `qemu-<arch> -cpu help` exits 1 after printing the list: keep any whole answer.
    if entry is not None and completed.returncode >= 0 and completed.stdout:
        store_text(entry, completed.stdout)
    return completed.stdout
