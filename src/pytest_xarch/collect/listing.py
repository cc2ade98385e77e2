"""On-disk cache of case listings, keyed by binary content, target, framework and runner.

Listing a binary costs one emulator launch; the cache makes re-runs (and
every xdist worker after the first) free. Entries are written by
`diskcache.store_text` (atomic) under a file lock, so readers never see half an entry.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Callable, Optional

from filelock import FileLock

from ..diskcache import store_text

_VERSION = "1"
# Another process listing the same binary is waited for as long as it takes: its launches
# are bounded by their own timeouts (a Unity or Go listing runs the tests), and a holder
# that dies releases the lock with its file descriptor.
_LOCK_TIMEOUT = -1


def listing_key(digest: str, target: str, framework: str, runner: str) -> str:
    """The cache key of one listing."""
    text = "\0".join((_VERSION, digest, target, framework, runner))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cached_listing(
    cache_dir: Optional[Path], key: str, compute: Callable[[], list[str]]
) -> list[str]:
    """The listing stored under `key`, computing and storing it when absent."""
    if cache_dir is None:
        return compute()
    folder = cache_dir / "listings"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{key}.json"
    with FileLock(str(path) + ".lock", timeout=_LOCK_TIMEOUT):
        stored = _read(path)
        if stored is not None:
            return stored
        cases = compute()
        store_text(path, json.dumps(cases))
        return cases


def _read(path: Path) -> Optional[list[str]]:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(data, list) and all(isinstance(item, str) for item in data):
        return data
    return None
