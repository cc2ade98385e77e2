"""Top-level conftest: the plugin's own tests use pytester (enabled in pyproject addopts).

The suite never writes to the user's caches: `XDG_CACHE_HOME` points at a directory
of this test session (made by the first process, inherited by xdist workers and by
every subprocess, removed at the end), and zig's global cache, which takes minutes
to fill, lives in the checkout's `build/` instead of `~/.cache/zig`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

_OWNER = "XARCH_TEST_CACHE_OWNER"  # pid of the process that made the session's cache


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get(_OWNER):
        return  # an xdist worker, or a pytester run inside the suite: keep the session's
    os.environ[_OWNER] = str(os.getpid())
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="pytest-xarch-tests-cache-")
    zig_cache = Path(__file__).resolve().parent / "build" / "zig-cache"
    os.environ.setdefault("ZIG_GLOBAL_CACHE_DIR", str(zig_cache))


def pytest_unconfigure(config: pytest.Config) -> None:
    if os.environ.get(_OWNER) == str(os.getpid()):
        shutil.rmtree(os.environ["XDG_CACHE_HOME"], ignore_errors=True)
        del os.environ[_OWNER]
