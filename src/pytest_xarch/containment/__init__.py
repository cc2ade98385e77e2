"""Containment: nothing a run starts outlives it, and nothing outlives this process.

One `Containment` per process, made on first use. Each run (one `execute`) gets a
`RunScope`; when the run's first process exits, times out or the caller is
interrupted, the scope kills everything the run started, daemons included.

Every process of a run carries the run's tag in its environment (see `procs`).
Where the tagged processes are looked for, and what else binds them, is the mode:

- ``cgroup``: this process moves itself, once, into a cgroup v2 of its own
  (``<own cgroup>/xarch-<pid>-<id>/self``); everything it starts is born there
  and no descendant can leave it, double-forked setsid() daemons included. A
  run's processes are the tagged members. Needs write access to this process's
  own cgroup: root, or a cgroup delegated by systemd. (A cgroup per run would
  need a migration per process started, which costs a kernel RCU grace period,
  10-20 ms, each time.)
- ``subreaper``: for a process that owns all its children (`xarch run`): it is a
  child subreaper, so every orphan comes back to it, and all its descendants
  belong to the run.
- ``process``: without either, tagged processes are looked for everywhere in
  /proc, with the run's process group and tree. A process that drops the tag and
  leaves the tree escapes.

All modes: core dumps are off for everything a run starts, and a `Guardian`
kills what is left and removes the scratch directory when this process ends,
SIGKILL included. (A parent-death signal on each run's first process would need a
`preexec_fn`, which costs a full fork per run; the guardian covers that case for
the whole tree, not only its first process.)
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..errors import SetupError
from . import cgroups, procs
from .guardian import Guardian
from .procs import (
    TAG_VARIABLE,
    become_subreaper,
    core_dumps_off,
    die_with_parent,
    reap_orphans,
)
from .scope import KILL_WAIT, RunScope

__all__ = [
    "MODES", "TAG_VARIABLE", "Availability", "Containment", "RunScope", "acquire",
    "become_subreaper", "close", "configure", "core_dumps_off", "current", "die_with_parent",
    "on_close", "probe",
    "reap_orphans", "release", "scoped",
]

MODES = ("auto", "cgroup", "process")


@dataclass(frozen=True)
class Availability:
    """Which containment this process gets, and why."""

    mode: str  # "cgroup", "subreaper" or "process"
    detail: str

    def __str__(self) -> str:
        return f"{self.mode} ({self.detail})"


def probe(requested: str = "auto", *, owns_children: bool = False) -> Availability:
    """The containment `requested` would give here, without creating anything.

    `owns_children`: the process starts nothing but its runs (`xarch run`), so
    `auto` takes a subreaper, which costs nothing, over a cgroup, which costs a
    migration.
    """
    if requested == "process":
        return Availability("process", "chosen by configuration: the process tree, process "
                                       "groups and an environment tag")
    if owns_children and requested == "auto":
        return Availability("subreaper", "every orphan of the run comes back to this process")
    base = cgroups.own_cgroup()
    if base is None:
        why = "no cgroup v2 hierarchy is mounted"
    elif not cgroups.writable(base):
        why = f"this process may not create cgroups under {base}"
    else:
        kill = "cgroup.kill" if cgroups.has_kill_file(base) else "no cgroup.kill: one by one"
        return Availability("cgroup", f"cgroup v2 under {base}, {kill}")
    if requested == "cgroup":
        raise SetupError(
            f"containment = \"cgroup\" was asked for, but {why}: run as root, in a delegated "
            "cgroup (systemd-run --user --scope -p Delegate=yes ...), or set "
            "containment = \"auto\""
        )
    return Availability("process", f"{why}; the process tree, process groups and an "
                                   "environment tag instead")


class Containment:
    """This process's session: where its runs' processes live, their scratch space, a guardian."""

    def __init__(self, requested: str = "auto", *, owns_children: bool = False) -> None:
        self.availability = probe(requested, owns_children=owns_children)
        self.pid = os.getpid()
        self.token = f"xarch-{self.pid}-{os.urandom(4).hex()}"
        self.origin: Optional[Path] = None  # our cgroup before we moved
        self.cgroup: Optional[Path] = None  # the session cgroup
        self.home: Optional[Path] = None  # where we and what we start live
        if self.availability.mode == "cgroup":
            self._make_cgroup()
        elif self.availability.mode == "subreaper" and not become_subreaper():
            self.availability = probe("process")
        _sweep_stale(self.origin)
        self.scratch = Path(tempfile.mkdtemp(prefix=f"{self.token}-"))
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        tag = "" if self.cgroup is not None else self.token
        self.guardian = Guardian(self.cgroup, tag, self.scratch)  # born outside our cgroup
        if self.home is not None:
            self._move_in()
        self.closed = False

    @property
    def mode(self) -> str:
        """`cgroup`, `subreaper` or `process`."""
        return self.availability.mode

    def describe(self) -> str:
        """One line for headers and `xarch targets`."""
        if self.home is not None:
            return f"cgroup ({self.home}: a run's processes are its tagged members)"
        return str(self.availability)

    def _make_cgroup(self) -> None:
        base = cgroups.own_cgroup()
        if base is None:
            return
        session = base / self.token
        try:
            session.mkdir()
            (session / "self").mkdir()
        except OSError as error:
            cgroups.remove_tree(session, wait=0)
            self._fall_back(f"cannot create {session} ({error.strerror})")
            return
        self.origin, self.cgroup, self.home = base, session, session / "self"

    def _move_in(self) -> None:
        assert self.home is not None
        try:
            cgroups.move_into(self.home)
        except OSError as error:
            cgroups.remove_tree(self.cgroup or self.home, wait=0)
            self._fall_back(f"cannot move into {self.home} ({error.strerror})")

    def _fall_back(self, why: str) -> None:
        self.origin = self.cgroup = self.home = None
        self.availability = Availability(
            "process", f"{why}; the process tree, process groups and an environment tag instead")

    def carrying(self, tag: str) -> list[int]:
        """Live processes carrying `tag` where this mode looks: the cgroup, our tree, or all."""
        if self.home is not None:
            candidates = cgroups.members(self.home, recursive=True)
        elif self.mode == "subreaper":
            candidates = procs.descendants(os.getpid())
        else:
            candidates = procs.all_pids()
        own = {os.getpid(), self.guardian.pid}
        return [pid for pid in candidates if pid not in own and procs.carries(pid, tag)]

    def leftovers(self) -> list[int]:
        """Subreaper mode: our descendants but the guardian and persistent processes."""
        keep = f"{self.token}/keep"
        return [pid for pid in procs.descendants(os.getpid())
                if pid != self.guardian.pid and not procs.carries(pid, keep)]

    def scope(self, *, persistent: bool = False) -> RunScope:
        """A new scope for one run; a `persistent` one lives until this process ends."""
        with self._lock:
            name = "keep" if persistent else f"run-{next(self._numbers)}"
        return RunScope(self, name, persistent=persistent)

    @contextlib.contextmanager
    def scratch_dir(self, prefix: str) -> Iterator[Path]:
        """A private temporary directory, removed afterwards (by the guardian if we die)."""
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir=self.scratch))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        """Kill every process of every run, leave the cgroup, remove it and the scratch space."""
        if self.closed or os.getpid() != self.pid:  # a forked child runs our atexit too
            return
        for callback in list(_before_close):
            with contextlib.suppress(Exception):  # a failing helper must not keep runs alive
                callback()
        self.closed = True
        ours = self.token + "/"
        deadline = time.monotonic() + KILL_WAIT
        while (pids := self.carrying(ours)) and time.monotonic() < deadline:
            procs.kill_verified(pids, lambda pid: procs.carries(pid, ours))
            time.sleep(0.005)
        if self.home is not None and self.origin is not None:
            with contextlib.suppress(OSError):
                cgroups.move_into(self.origin)
                for pid in cgroups.members(self.home):  # others' processes: not ours to kill
                    with contextlib.suppress(OSError):
                        cgroups.move_into(self.origin, pid)
            if self.cgroup is not None:
                cgroups.remove_tree(self.cgroup)  # nested sessions of killed runs, if any
        if self.mode == "subreaper":
            guardian, me = self.guardian.pid, os.getpid()
            procs.kill_verified(self.leftovers(),
                                lambda pid: pid != guardian and procs.descends_from(pid, me))
            reap_orphans(keep=(guardian,))
        shutil.rmtree(self.scratch, ignore_errors=True)
        _sweep_stale(self.origin)
        self.guardian.release()


def _owner_gone(folder: Path) -> bool:
    """Whether the process named in `xarch-<pid>-...` has ended (ours to clean up then)."""
    try:
        owner = int(folder.name.split("-")[1])
        if folder.lstat().st_uid != os.geteuid():
            return False
        os.kill(owner, 0)
    except ProcessLookupError:
        return True
    except (ValueError, IndexError, OSError):
        return False
    return False


def _sweep_stale(cgroup_base: Optional[Path]) -> None:
    """Remove what sessions left whose owner and guardian were both killed.

    That happens when a containing run kills a process that has a containment of
    its own: its guardian belongs to the same run and dies with it.
    """
    with contextlib.suppress(OSError):
        for folder in Path(tempfile.gettempdir()).glob("xarch-*-*-*"):
            if folder.is_dir() and not folder.is_symlink() and _owner_gone(folder):
                shutil.rmtree(folder, ignore_errors=True)
    if cgroup_base is not None:
        with contextlib.suppress(OSError):
            for folder in cgroup_base.glob("xarch-*-*"):
                if _owner_gone(folder):
                    cgroups.remove_tree(folder, wait=0.5)


_requested = "auto"
_owns_children = False
_current: Optional[Containment] = None
_users = 0
_before_close: list[Callable[[], None]] = []
_current_lock = threading.Lock()


def configure(mode: str, *, owns_children: bool = False) -> None:
    """Choose the mechanism before the first run of this process.

    `owns_children`: this process starts nothing but runs (`xarch run`).
    """
    global _requested, _owns_children
    if mode not in MODES:
        raise SetupError(f"containment {mode!r}: expected one of {', '.join(MODES)}")
    _requested, _owns_children = mode, owns_children


def current() -> Containment:
    """This process's containment, made on first use and closed when the process exits."""
    global _current
    with _current_lock:
        if _current is None or _current.closed or _current.pid != os.getpid():
            _current = Containment(_requested, owns_children=_owns_children)
            atexit.register(_current.close)
        return _current


def acquire() -> None:
    """A user (a pytest session) starts; nothing is made until a first run needs it."""
    global _users
    _users += 1


def release() -> None:
    """A user ends; the last one closes the containment (a nested pytester run does not)."""
    global _users
    _users -= 1
    if _users <= 0 and _current is not None and _current.pid == os.getpid():
        _current.close()


def on_close(callback: Callable[[], None]) -> None:
    """Have `callback` run before the containment closes (closing SSH masters, say),
    while runs still work."""
    if callback not in _before_close:
        _before_close.append(callback)


def close() -> None:
    """Close this process's containment now (the end of `xarch run`)."""
    if _current is not None and _current.pid == os.getpid():
        _current.close()


@contextlib.contextmanager
def scoped(mode: str = "auto") -> Iterator[Containment]:
    """A containment of its own for the block (tests, embedders), closed at its end."""
    global _current
    if mode not in MODES:
        raise SetupError(f"containment {mode!r}: expected one of {', '.join(MODES)}")
    fresh = Containment(mode)
    with _current_lock:
        previous, _current = _current, fresh
    try:
        yield fresh
    finally:
        fresh.close()
        with _current_lock:
            _current = previous
