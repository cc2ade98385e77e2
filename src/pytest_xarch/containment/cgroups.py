"""cgroup v2, as files: where this process's cgroup is, and making, emptying, removing one."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path
from typing import Optional


def _cgroup2_mount() -> Optional[tuple[Path, str]]:
    """(mount point, root inside the hierarchy) of the first cgroup2 mount."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as stream:
            for line in stream:
                fields = line.split()
                separator = fields.index("-")
                if fields[separator + 1] == "cgroup2":
                    return Path(fields[4]), fields[3]
    except (OSError, ValueError, IndexError):
        return None
    return None


def own_cgroup() -> Optional[Path]:
    """The directory of this process's cgroup v2, or None without a cgroup2 mount."""
    mount = _cgroup2_mount()
    if mount is None:
        return None
    point, root = mount
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as stream:
            line = next((line for line in stream if line.startswith("0::")), None)
    except OSError:
        return None
    if line is None:
        return None
    path = line[3:].strip()
    if root != "/" and path.startswith(root):
        path = path[len(root):]
    folder = point / path.lstrip("/")
    return folder if folder.is_dir() else None


def writable(folder: Path) -> bool:
    """Whether this process may create cgroups under `folder` and move processes into them."""
    return os.access(folder, os.W_OK) and os.access(folder / "cgroup.procs", os.W_OK)


def has_kill_file(base: Path) -> bool:
    """Whether this kernel has cgroup.kill (5.14+); the root cgroup has none, so ask a child."""
    if (base / "cgroup.kill").exists():
        return True
    with contextlib.suppress(OSError):
        for child in base.iterdir():
            if (child / "cgroup.procs").exists():
                return (child / "cgroup.kill").exists()
    release = os.uname().release.split("-")[0].split(".")
    try:
        return (int(release[0]), int(release[1])) >= (5, 14)
    except (ValueError, IndexError):
        return False


def move_into(folder: Path, pid: int = 0) -> None:
    """Move process `pid` (0: this one, all its threads) into the cgroup `folder`."""
    (folder / "cgroup.procs").write_text(str(pid))


def members(folder: Path, *, recursive: bool = False) -> list[int]:
    """The pids in `folder` (and, `recursive`, in the cgroups below it)."""
    files = [folder / "cgroup.procs"]
    if recursive:
        with contextlib.suppress(OSError):
            files += [path for path in folder.rglob("*/cgroup.procs")]
    found: list[int] = []
    for procs in files:
        with contextlib.suppress(OSError, ValueError):
            found += [int(pid) for pid in procs.read_text().split()]
    return found


def populated(folder: Path) -> bool:
    """Whether any process is in `folder` or below."""
    try:
        return "populated 1" in (folder / "cgroup.events").read_text()
    except OSError:
        return False


def kill_all(folder: Path) -> None:
    """SIGKILL every process in `folder` and below (cgroup.kill, or one by one before 5.14)."""
    try:
        (folder / "cgroup.kill").write_text("1")
        return
    except FileNotFoundError:
        pass
    except OSError:
        return  # gone already
    for procs in folder.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            for pid in procs.read_text().split():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(pid), signal.SIGKILL)


def remove_tree(folder: Path, *, kill: bool = True, wait: float = 5.0) -> bool:
    """Remove `folder` and the cgroups below it, killing their processes first with `kill`.

    False when something is still inside after `wait` seconds (then nothing is removed).
    """
    deadline = time.monotonic() + wait
    while populated(folder):
        if not kill or time.monotonic() > deadline:
            return False
        kill_all(folder)
        time.sleep(0.005)
    with contextlib.suppress(OSError):
        for child in [path for path in folder.iterdir() if (path / "cgroup.procs").exists()]:
            remove_tree(child, kill=kill, wait=0)
    try:
        folder.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True
