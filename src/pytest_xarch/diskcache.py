"""The per-user disk cache: `$XDG_CACHE_HOME/pytest-xarch` (default `~/.cache`).

Entries are small files written to a temporary name and renamed into place, so
a reader sees a whole entry or none. `XARCH_NO_CACHE=1` or an unwritable
directory only means recomputing: failing to cache is never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Optional

from .files import shared_mode, write_atomic


def user_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/pytest-xarch`, else `~/.cache/pytest-xarch`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pytest-xarch"


def builds_dir() -> Path:
    """Where built artifacts are cached outside pytest: the user cache's `builds/`."""
    return user_cache_dir() / "builds"


def cache_root() -> Optional[Path]:
    """The cache directory of pytest-xarch, or None when caching is off."""
    return None if os.environ.get("XARCH_NO_CACHE") else user_cache_dir()


def entry_path(kind: str, *identity: str) -> Optional[Path]:
    """Where the entry identified by `identity` lives under `kind`, or None without a cache."""
    root = cache_root()
    if root is None:
        return None
    key = hashlib.sha256("\0".join(identity).encode()).hexdigest()[:32]
    return root / kind / key


def store_text(entry: Path, text: str) -> None:
    """Write `text` to `entry` atomically; failing to cache is never an error."""
    with contextlib.suppress(OSError):
        if not entry.parent.is_dir():
            entry.parent.mkdir(parents=True, exist_ok=True)
            shared_mode(entry.parent, directory=True)
        write_atomic(entry, text)
