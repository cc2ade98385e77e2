"""Facts about processes from /proc, and the kernel calls that bind them to us.

The run tag: every process a run starts carries ``XARCH_RUN_TAG`` in its
environment, a colon-separated list of the tags of the runs it belongs to (a run
started inside another run carries both). Children inherit it, whatever session,
process group or parent they end up with; /proc/<pid>/environ shows it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from typing import Callable, Optional

TAG_VARIABLE = "XARCH_RUN_TAG"

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def prctl_function() -> Optional[Callable[..., int]]:
    """libc's prctl, or None where ctypes or the symbol is unavailable."""
    try:
        import ctypes

        function: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None
    return function


def become_subreaper() -> bool:
    """Make orphaned descendants of this process come back to it (PR_SET_CHILD_SUBREAPER).

    Only for processes that own all their children (the `xarch run` command): a
    subreaper must reap what comes back, see `reap_orphans`.
    """
    prctl = prctl_function()
    return prctl is not None and prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def die_with_parent(signum: int = signal.SIGTERM) -> bool:
    """Have the kernel send this process `signum` when its parent ends.

    False when that cannot be arranged, or when the parent has already gone.
    """
    prctl = prctl_function()
    parent = os.getppid()
    if prctl is None or prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        return False
    return os.getppid() == parent != 1


_core_lock = threading.Lock()


@contextlib.contextmanager
def core_dumps_off() -> Iterator[None]:
    """No core dumps for processes created in the block (they inherit our soft RLIMIT_CORE).

    Lowering our own soft limit for the moment of the fork keeps `subprocess` on
    its vfork path: a `preexec_fn` would force a full fork, 2-4 ms per run here.
    """
    try:
        import resource
    except ImportError:
        yield
        return
    with _core_lock:
        soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        if soft == 0:
            yield
            return
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))


def reap_orphans(keep: Iterable[Optional[int]] = ()) -> None:
    """Collect finished orphans a subreaper inherited; the children in `keep` are left to
    whoever waits for them (a Popen's wait must still find its child)."""
    kept = set(keep)
    for child in children(os.getpid()):
        if child not in kept and not alive(child):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(child, os.WNOHANG)


def alive(pid: int) -> bool:
    """Running (a zombie is dead: only its parent's wait is missing)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            state = stream.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def children(pid: int) -> list[int]:
    """Direct children of `pid` (/proc/<pid>/task/*/children)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as stream:
                found += [int(child) for child in stream.read().split()]
        except (OSError, ValueError):
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every descendant of `pid`, breadth first."""
    found: list[int] = []
    queue = children(pid)
    while queue:
        child = queue.pop(0)
        found.append(child)
        queue += children(child)
    return found


def tags_of(pid: int) -> list[str]:
    """The run tags in `pid`'s environment ([] when it has none or cannot be read)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as stream:
            environ = stream.read()
    except OSError:
        return []
    needle = TAG_VARIABLE.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(needle):
            return entry[len(needle):].decode(errors="replace").split(":")
    return []


def carries(pid: int, tag: str) -> bool:
    """Whether `pid` belongs to the run `tag` (or, for a tag ending in "/", to any run of it)."""
    if tag.endswith("/"):
        return any(own.startswith(tag) for own in tags_of(pid))
    return tag in tags_of(pid)


def all_pids() -> list[int]:
    """Every pid in /proc."""
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def parent_of(pid: int) -> Optional[int]:
    """The parent pid of `pid`, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            return int(stream.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def descends_from(pid: int, ancestor: int) -> bool:
    """Whether `ancestor` is among the parents of `pid` now."""
    current: Optional[int] = pid
    for _ in range(4096):  # a parent chain is short; this bounds a loop through reuse
        if current is None or current <= 1:
            return False
        current = parent_of(current)
        if current == ancestor:
            return True
    return False


def kill_verified(pids: Iterable[int], still: Callable[[int], bool]) -> None:
    """SIGKILL each of `pids` for which `still(pid)` holds once the process is pinned.

    A pidfd pins the process first (Linux 5.3+), so that the check and the signal
    are about the same process even if the pid was freed and reused meanwhile.
    """
    for pid in pids:
        try:
            pinned = os.pidfd_open(pid)  # type: ignore[attr-defined,unused-ignore]
        except ProcessLookupError:
            continue
        except (AttributeError, OSError):  # no pidfds: the plain, racy signal
            if still(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            continue
        try:
            if still(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    signal.pidfd_send_signal(pinned, signal.SIGKILL)  # type: ignore[attr-defined,unused-ignore]
        finally:
            os.close(pinned)
