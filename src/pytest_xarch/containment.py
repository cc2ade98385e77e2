"""Containment: nothing a run starts outlives it, and nothing outlives this process.

One `Containment` per process, made on first use. Each run (one `execute`) gets a
`RunScope`; when the run's main process ends, times out or is interrupted, the
scope kills everything the run started, daemons included. Two mechanisms:

- ``cgroup``: a cgroup v2 per run inside one per process
  (``<own cgroup>/xarch-<pid>-<id>/run-<n>``). The kernel keeps every descendant
  inside, double-forked and setsid() daemons too, and ``cgroup.kill`` ends them
  all at once. Needs write access to this process's own cgroup: root, or a
  cgroup delegated by systemd (``systemd-run --user --scope -p Delegate=yes``).
- ``process``: without that access, a run's processes are found by their
  process group, their parentage and an environment tag (``XARCH_RUN_TAG``) that
  everything a run starts inherits. A process that drops the tag from its
  environment and leaves the process tree escapes this.

Both: the run's first process gets a parent-death signal (SIGKILL), core dumps
are off for everything a run starts (QEMU then leaves no core file in the
working directory and prints no "uncaught target signal" banner), and a
guardian (a small ``sh`` loop in a session of its own) waits for this process to
end, however it ends, SIGKILL included, then kills what is left of its runs and
removes its scratch directory.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from .errors import SetupError

MODES = ("auto", "cgroup", "process")
TAG_VARIABLE = "XARCH_RUN_TAG"
_KILL_WAIT = 5.0  # seconds to wait for killed processes to be gone

# The guardian: $1 cgroup dir or "", $2 tag prefix or "", $3 scratch dir. It reads
# its stdin (a pipe only its owner writes to) until end-of-file, i.e. until the
# owner closed it or died, then cleans up. It ignores the signals a terminal or a
# CI runner sends the whole process group, so it outlives whoever it guards.
_GUARDIAN = r"""
trap '' INT TERM HUP QUIT PIPE
while read -r _; do :; done
cg=$1 tag=$2 scratch=$3
if [ -n "$cg" ] && [ -d "$cg" ]; then
    [ -e "$cg/cgroup.kill" ] && echo 1 > "$cg/cgroup.kill" 2>/dev/null
    n=0
    while [ $n -lt 100 ] && ! grep -qx 'populated 0' "$cg/cgroup.events" 2>/dev/null; do
        for procs in $(find "$cg" -name cgroup.procs 2>/dev/null); do
            for pid in $(cat "$procs" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
        done
        sleep 0.05; n=$((n + 1))
    done
    find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
fi
if [ -n "$tag" ]; then
    n=0
    while [ $n -lt 20 ]; do
        pids=$(grep -lsz "^XARCH_RUN_TAG=$tag/" /proc/[0-9]*/environ 2>/dev/null \
               | sed 's#^/proc/\([0-9]*\)/environ$#\1#')
        [ -z "$pids" ] && break
        kill -9 $pids 2>/dev/null; sleep 0.05; n=$((n + 1))
    done
fi
[ -n "$scratch" ] && rm -rf "$scratch"
exit 0
"""

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def _prctl() -> Optional[Callable[..., int]]:
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
    prctl = _prctl()
    return prctl is not None and prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def die_with_parent(signum: int = signal.SIGTERM) -> bool:
    """Have the kernel send this process `signum` when its parent ends.

    False when that cannot be arranged, or when the parent has already gone.
    """
    prctl = _prctl()
    parent = os.getppid()
    if prctl is None or prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
        return False
    return os.getppid() == parent != 1


def reap_orphans() -> None:
    """Collect the exit status of any finished child (orphans a subreaper inherited)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


# -- cgroup v2 ----------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Availability:
    """Which containment this process gets, and why."""

    mode: str  # "cgroup" or "process"
    detail: str

    def __str__(self) -> str:
        return f"{self.mode} ({self.detail})"


def probe(requested: str = "auto") -> Availability:
    """The containment `requested` would give here, without creating anything."""
    if requested == "process":
        return Availability("process", "chosen by configuration: process groups and an "
                                       "environment tag")
    base = own_cgroup()
    if base is None:
        why = "no cgroup v2 hierarchy is mounted"
    elif not (os.access(base, os.W_OK) and os.access(base / "cgroup.procs", os.W_OK)):
        why = f"this process may not create cgroups under {base}"
    else:
        kill = "cgroup.kill" if _has_kill_file(base) else "no cgroup.kill: killed one by one"
        return Availability("cgroup", f"cgroup v2 under {base}, {kill}")
    if requested == "cgroup":
        raise SetupError(
            f"containment = \"cgroup\" was asked for, but {why}: run as root, in a delegated "
            "cgroup (systemd-run --user --scope -p Delegate=yes ...), or set "
            "containment = \"auto\""
        )
    return Availability("process", f"{why}; process groups and an environment tag instead")


def _has_kill_file(base: Path) -> bool:
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


def _populated(folder: Path) -> bool:
    try:
        return "populated 1" in (folder / "cgroup.events").read_text()
    except OSError:
        return False


def _kill_cgroup(folder: Path) -> None:
    """SIGKILL every process in `folder` and below."""
    try:
        (folder / "cgroup.kill").write_text("1")
        return
    except FileNotFoundError:
        pass  # a kernel before 5.14: one by one
    except OSError:
        return  # gone already
    for procs in folder.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            for pid in procs.read_text().split():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(pid), signal.SIGKILL)


def _remove_cgroup(folder: Path, wait: float = _KILL_WAIT) -> bool:
    """Kill everything in `folder`, wait until it is empty and remove it; False if it stays."""
    deadline = time.monotonic() + wait
    while True:
        _kill_cgroup(folder)
        if not _populated(folder):
            break
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    with contextlib.suppress(OSError):
        for child in [path for path in folder.iterdir() if (path / "cgroup.procs").exists()]:
            _remove_cgroup(child, wait=0)
    with contextlib.suppress(FileNotFoundError):
        try:
            folder.rmdir()
        except OSError:
            return False
    return True


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
    its own: its guardian lives inside the same run and dies with it.
    """
    with contextlib.suppress(OSError):
        for folder in Path(tempfile.gettempdir()).glob("xarch-*-*-*"):
            if folder.is_dir() and not folder.is_symlink() and _owner_gone(folder):
                shutil.rmtree(folder, ignore_errors=True)
    if cgroup_base is not None:
        with contextlib.suppress(OSError):
            for folder in cgroup_base.glob("xarch-*-*"):
                if _owner_gone(folder):
                    _remove_cgroup(folder, wait=0.5)


# -- process mode -------------------------------------------------------------------------


def tagged_processes(tag: str) -> list[int]:
    """Pids whose environment carries ``XARCH_RUN_TAG=<tag>...`` (this user's processes)."""
    needle = f"{TAG_VARIABLE}={tag}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as stream:
                environ = stream.read()
        except OSError:
            continue
        if environ.startswith(needle) or b"\0" + needle in environ:
            found.append(int(name))
    return found


def _kill_pids(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


# -- scopes -------------------------------------------------------------------------------


class RunScope:
    """The processes of one run: placed at spawn, killed and accounted for at its end."""

    def __init__(self, owner: Containment, name: str, *, persistent: bool = False) -> None:
        self.owner = owner
        self.persistent = persistent
        self.tag = f"{owner.token}/{name}"
        self.cgroup: Optional[Path] = None
        self._procs_fd = -1
        self._pid: Optional[int] = None
        self._own_group = False
        if owner.cgroup is not None:
            folder = owner.cgroup / name
            folder.mkdir(exist_ok=persistent)
            self.cgroup = folder
            self._procs_fd = os.open(folder / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)

    @property
    def env(self) -> dict[str, str]:
        """Variables the run's processes must carry (the tag, in process mode)."""
        return {} if self.cgroup is not None else {TAG_VARIABLE: self.tag}

    def preexec(self) -> Callable[[], None]:
        """What the child does between fork and exec: join the cgroup, die with us, no cores."""
        procs_fd = self._procs_fd
        prctl = self.owner.prctl
        parent = os.getpid()
        core = self.owner.core_limit

        def setup() -> None:
            if procs_fd >= 0:
                os.write(procs_fd, b"0")
            if prctl is not None:
                prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
                if os.getppid() != parent:  # we died between fork and prctl
                    os._exit(127)
            if core is not None:
                import resource

                resource.setrlimit(resource.RLIMIT_CORE, core)

        return setup

    def started(self, pid: int, *, own_group: bool) -> None:
        """The run's first process is `pid` (leader of its own process group if `own_group`)."""
        self._pid = pid
        self._own_group = own_group
        if self._procs_fd >= 0:
            os.close(self._procs_fd)
            self._procs_fd = -1

    def kill(self) -> None:
        """SIGKILL every process of the run that is still alive."""
        if self.cgroup is not None:
            _kill_cgroup(self.cgroup)
            return
        for _ in range(5):
            pids = self._pid_set()
            if not pids:
                return
            _kill_pids(pids)

    def _pid_set(self) -> list[int]:
        pids = set(tagged_processes(self.tag))
        if self._pid is not None:
            pids.add(self._pid)
            pids.update(_descendants(self._pid))
            if self._own_group:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self._pid, signal.SIGKILL)
        pids.discard(os.getpid())
        return [pid for pid in pids if _alive(pid)]

    def close(self) -> None:
        """Kill what is left and release the scope (its cgroup is removed)."""
        if self._procs_fd >= 0:
            os.close(self._procs_fd)
            self._procs_fd = -1
        if self.persistent:
            return
        if self.cgroup is not None:
            _remove_cgroup(self.cgroup)
            return
        deadline = time.monotonic() + _KILL_WAIT
        while time.monotonic() < deadline:
            self.kill()
            if not self._pid_set():
                return
            time.sleep(0.01)


def _alive(pid: int) -> bool:
    """Running (a zombie is dead: only its parent's wait is missing)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            state = stream.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


class Containment:
    """This process's session: the cgroup (or tag) of its runs, their scratch space, a guardian."""

    def __init__(self, requested: str = "auto") -> None:
        self.availability = probe(requested)
        self.pid = os.getpid()
        self.token = f"xarch-{os.getpid()}-{secrets.token_hex(4)}"
        self.prctl = _prctl()
        self.core_limit = _no_core_limit()
        self.cgroup: Optional[Path] = None
        if self.availability.mode == "cgroup":
            self.cgroup = self._make_cgroup()
        _sweep_stale(self.cgroup.parent if self.cgroup is not None else None)
        self.scratch = Path(tempfile.mkdtemp(prefix=f"{self.token}-"))
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._guardian = self._start_guardian()
        self._closed = False

    @property
    def mode(self) -> str:
        return "cgroup" if self.cgroup is not None else "process"

    def describe(self) -> str:
        """One line for headers and `xarch targets`."""
        if self.cgroup is not None:
            return f"cgroup ({self.cgroup}, killed with cgroup.kill)"
        return str(self.availability)

    def _make_cgroup(self) -> Optional[Path]:
        base = own_cgroup()
        if base is None:
            return None
        folder = base / self.token
        try:
            folder.mkdir()
        except OSError as error:
            self.availability = Availability(
                "process", f"cannot create {folder} ({error.strerror}); process groups and an "
                           "environment tag instead")
            return None
        return folder

    def _start_guardian(self) -> Optional[subprocess.Popen[bytes]]:
        shell = shutil.which("sh") or "/bin/sh"
        cgroup = str(self.cgroup) if self.cgroup is not None else ""
        tag = "" if self.cgroup is not None else self.token
        try:
            return subprocess.Popen(
                [shell, "-c", _GUARDIAN, "xarch-guardian", cgroup, tag, str(self.scratch)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True, cwd="/",
            )
        except OSError:
            return None

    def disable_cgroup(self, why: str) -> None:
        """Fall back to process mode (the kernel refused to move a process into our cgroup)."""
        if self.cgroup is not None:
            _remove_cgroup(self.cgroup, wait=0.5)
        self.cgroup = None
        self.availability = Availability("process", f"{why}; process groups and an "
                                                    "environment tag instead")

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
        """Kill every process of every run, remove the cgroups and the scratch directory."""
        if self._closed:
            return
        self._closed = True
        if self.cgroup is not None:
            _remove_cgroup(self.cgroup)
        else:
            for _ in range(5):
                pids = [pid for pid in tagged_processes(self.token + "/") if _alive(pid)]
                if not pids:
                    break
                _kill_pids(pids)
                time.sleep(0.01)
        shutil.rmtree(self.scratch, ignore_errors=True)
        _sweep_stale(self.cgroup.parent if self.cgroup is not None else None)
        if self._guardian is not None and self._guardian.stdin is not None:
            self._guardian.stdin.close()  # the guardian finds nothing left and exits
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._guardian.wait(timeout=_KILL_WAIT)


def _no_core_limit() -> Optional[tuple[int, int]]:
    try:
        import resource

        return (0, resource.getrlimit(resource.RLIMIT_CORE)[1])
    except (ImportError, OSError, ValueError):
        return None


_requested = "auto"
_current: Optional[Containment] = None
_current_lock = threading.Lock()


def configure(mode: str) -> None:
    """Choose the mechanism (`auto`, `cgroup`, `process`) before the first run of this process."""
    global _requested
    if mode not in MODES:
        raise SetupError(f"containment {mode!r}: expected one of {', '.join(MODES)}")
    _requested = mode


def current() -> Containment:
    """This process's containment, made on first use and closed when the process exits."""
    global _current
    with _current_lock:
        if _current is None or _current._closed or _current.pid != os.getpid():
            _current = Containment(_requested)
            atexit.register(_current.close)
        return _current


def close() -> None:
    """Close this process's containment now (pytest_unconfigure, the end of `xarch run`)."""
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
