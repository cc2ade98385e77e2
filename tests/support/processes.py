"""Processes the tests start themselves (servers, compilers) and leftovers to look for."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import time
from pathlib import Path

import psutil


def kill_tree(pid: int, *, own_group: bool) -> None:
    """SIGKILL `pid`, its descendants and (with `own_group`) its process group."""
    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    if own_group:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    for proc in descendants:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    psutil.wait_procs(descendants, timeout=5)


def processes_with(marker: str) -> list[psutil.Process]:
    """Live (not zombie) processes whose command line contains `marker`."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        with contextlib.suppress(psutil.Error):
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(marker in part for part in proc.info["cmdline"] or ()):
                found.append(proc)
    return found


def wait_gone(marker: str, limit: float = 10.0) -> list[psutil.Process]:
    """Wait until no process carries `marker`; returns those still alive after `limit`."""
    deadline = time.monotonic() + limit
    while True:
        alive = processes_with(marker)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def leftover_dirs(tmp: Path | None = None) -> list[Path]:
    """Scratch directories of pytest-xarch in the temp dir (runs and sessions)."""
    folder = tmp or Path(tempfile.gettempdir())
    return sorted(p for p in folder.glob("xarch-*") if p.is_dir())
