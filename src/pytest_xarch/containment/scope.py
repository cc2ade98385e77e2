"""The processes of one run: tagged at spawn, killed and accounted for at its end."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from typing import TYPE_CHECKING, Optional

from . import procs
from .procs import TAG_VARIABLE, reap_orphans

if TYPE_CHECKING:
    from . import Containment

KILL_WAIT = 5.0  # seconds to wait for killed processes to be gone


class RunScope:
    """The processes of one run: tagged at spawn, killed and accounted for at its end."""

    def __init__(self, owner: Containment, name: str, *, persistent: bool = False) -> None:
        self.owner = owner
        self.persistent = persistent
        self.tag = f"{owner.token}/{name}"
        self._pid: Optional[int] = None
        self._own_group = False
        self._empty = False
        self._closed = False

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        """`base` plus the tag: the runs this process belongs to, then this one."""
        inherited = os.environ.get(TAG_VARIABLE)
        tags = f"{inherited}:{self.tag}" if inherited else self.tag
        return {**base, TAG_VARIABLE: tags}

    def started(self, pid: int, *, own_group: bool) -> None:
        """The run's first process is `pid` (leader of its own process group if `own_group`)."""
        self._pid = pid
        self._own_group = own_group

    def members(self) -> list[int]:
        """The run's live processes, as listed now (see `kill` for acting on them safely)."""
        pids = set(self.owner.carrying(self.tag))
        if self._pid is not None:
            pids.add(self._pid)
            pids.update(procs.descendants(self._pid))
        if self.owner.mode == "subreaper" and not self.persistent:
            pids.update(self.owner.leftovers())
        pids.discard(os.getpid())
        return [pid for pid in pids if procs.alive(pid)]

    def kill(self) -> bool:
        """SIGKILL every live process of the run; False when none was left.

        Each is pinned with a pidfd and checked again before the signal, so a pid the
        kernel handed to a new process meanwhile is never hit. Once none is left,
        none can appear: the run is over for good.
        """
        if self._empty:
            return False
        if self._own_group and self._pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pid, signal.SIGKILL)
        listed = self.members()
        procs.kill_verified(listed, lambda pid: self._still_ours(pid, listed))
        self._empty = not listed
        return bool(listed)

    def _still_ours(self, pid: int, listed: list[int]) -> bool:
        if pid == self._pid or procs.carries(pid, self.tag):
            return True
        if self.owner.mode == "subreaper" and procs.descends_from(pid, os.getpid()):
            return pid != self.owner.guardian.pid
        parent = procs.parent_of(pid)
        return parent in listed or parent == self._pid

    def close(self) -> None:
        """Kill what is left of the run and wait until it is gone (a persistent one lives on).

        Call it while the first process is unreaped (its pid cannot be reused then).
        """
        if self.persistent or self._closed:
            return
        deadline = time.monotonic() + KILL_WAIT
        while self.kill() and time.monotonic() < deadline:
            time.sleep(0.005)
        if self.owner.mode == "subreaper":
            reap_orphans(keep=(self._pid, self.owner.guardian.pid))
        self._closed = True
        self._pid = None


