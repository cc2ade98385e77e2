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
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from ..process import run_tool


def cache_dir() -> Optional[Path]:
    """The directory for cached QEMU answers, or None when caching is off."""
    if os.environ.get("XARCH_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pytest-xarch" / "qemu"


def _key(qemu_path: str, args: Sequence[str]) -> Optional[str]:
    try:
        real = os.path.realpath(qemu_path)
        info = os.stat(real)
    except OSError:
        return None
    identity = "\0".join([real, str(info.st_size), str(info.st_mtime_ns), *args])
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def qemu_says(qemu_path: str, args: Sequence[str], *, timeout: float = 10) -> str:
    """Standard output of `qemu_path ARGS`, from the cache when the binary is unchanged."""
    folder, key = cache_dir(), _key(qemu_path, args)
    entry = folder / key if folder is not None and key is not None else None
    if entry is not None:
        with contextlib.suppress(OSError):
            return entry.read_text("utf-8")
    completed = run_tool([qemu_path, *args], timeout=timeout)
    # `qemu-<arch> -cpu help` exits 1 after printing the list: keep any whole answer.
    if entry is not None and completed.returncode >= 0 and completed.stdout:
        _store(entry, completed.stdout)
    return completed.stdout


def _store(entry: Path, text: str) -> None:
    """Write `text` to `entry` atomically; failing to cache is never an error."""
    with contextlib.suppress(OSError):
        entry.parent.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=entry.parent, prefix=".partial-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(text)
            os.replace(partial, entry)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(partial)
