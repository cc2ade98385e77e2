"""Spawning processes with a timeout, killing whole process trees, measuring rusage.

Every process this package starts goes through `execute`. It always has a
timeout; on expiry the process and every descendant are killed with SIGKILL (so
children that ignore SIGTERM die too) and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

StdinData = Union[str, bytes, None]


@dataclass
class ProcessOutcome:
    """What happened to one process: status, output, time and resources."""

    argv: list[str]
    returncode: int  # negative -N when killed by signal N, like subprocess
    stdout: bytes
    stderr: bytes
    timed_out: bool
    duration: float  # wall-clock seconds
    max_rss_kb: Optional[int] = None
    cpu_time: Optional[float] = None  # user + system seconds


class _Popen(subprocess.Popen):  # type: ignore[type-arg]
    """Popen that reaps with wait4() so the child's rusage is kept."""

    rusage: Optional[Any] = None

    def __init__(self, argv: list[str], **kwargs: Any) -> None:
        super().__init__(argv, **kwargs)
        self.argv = argv

    def _try_wait(self, wait_flags: int) -> tuple[int, int]:
        try:
            pid, status, rusage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return (self.pid, 0)
        if pid == self.pid:
            self.rusage = rusage
        return (pid, status)


def _descendants(pid: int) -> list[Any]:
    import psutil

    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def kill_tree(pid: int, *, own_group: bool) -> None:
    """SIGKILL `pid` and all its descendants; with `own_group`, its whole process group."""
    import psutil

    survivors = _descendants(pid)
    if own_group:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    for proc in [*survivors]:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _wait_dead(survivors, timeout=5.0)


def _wait_dead(procs: list[Any], timeout: float) -> None:
    """Wait until `procs` are gone; a zombie is dead already (its reaper may be slow)."""
    import psutil

    deadline = time.monotonic() + timeout
    alive = procs
    while alive and time.monotonic() < deadline:
        _, alive = psutil.wait_procs(alive, timeout=0.05)
        alive = [proc for proc in alive if not _is_zombie(proc)]


def _is_zombie(proc: Any) -> bool:
    import psutil

    try:
        return bool(proc.status() == psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return True


def reap_group(pgid: int) -> None:
    """Kill what is left of a finished process's group (daemons it left behind)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _as_bytes(data: StdinData) -> Optional[bytes]:
    if data is None or isinstance(data, bytes):
        return data
    return data.encode()


def execute(
    argv: Sequence[str],
    *,
    timeout: float,
    stdin: StdinData = None,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    capture: bool = True,
) -> ProcessOutcome:
    """Run `argv` to completion or until `timeout` seconds, then kill its whole tree.

    With `capture`, the process gets its own session, stdin is `stdin` (or
    /dev/null) and output is captured. Without it, stdio is inherited (the
    process runs in the foreground, as a shell would run it) and SIGINT,
    SIGTERM and SIGHUP sent to us are forwarded to it.
    """
    if timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    if capture:
        return _execute_captured(argv, timeout, _as_bytes(stdin), env, cwd)
    return _execute_foreground(argv, timeout, env, cwd)


def _execute_captured(
    argv: Sequence[str],
    timeout: float,
    stdin: Optional[bytes],
    env: Optional[Mapping[str, str]],
    cwd: Optional[str],
) -> ProcessOutcome:
    start = time.monotonic()
    proc = _Popen(
        list(argv),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=cwd,
        start_new_session=True,
    )
    timed_out = False
    try:
        stdout, stderr = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_tree(proc.pid, own_group=True)
        stdout, stderr = _drain(proc)
    except BaseException:  # KeyboardInterrupt, or a pytest timeout plugin: leave nothing
        kill_tree(proc.pid, own_group=True)
        proc.wait()
        raise
    finally:
        reap_group(proc.pid)
    return _outcome(proc, start, stdout or b"", stderr or b"", timed_out)


# Seconds to collect output after a kill: a process outside the killed tree (an ssh
# ControlMaster, a daemon that called setsid) may hold the pipes open for ever.
_DRAIN_SECONDS = 5.0


def _drain(proc: _Popen) -> tuple[bytes, bytes]:
    """The output of a killed process, giving up on pipes that others keep open."""
    try:
        stdout, stderr = proc.communicate(timeout=_DRAIN_SECONDS)
        return stdout or b"", stderr or b""
    except subprocess.TimeoutExpired:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        proc.wait()
        return b"", b"[output lost: a process outside the killed tree kept the pipes open]\n"


@contextlib.contextmanager
def _forwarding_signals(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """Forward termination signals to `proc` while the block runs (main thread only)."""
    forwarded = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    try:
        previous = {sig: signal.signal(sig, forward) for sig in forwarded}
    except ValueError:  # not the main thread: nothing to forward from
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_exactly(proc: _Popen, timeout: float) -> None:
    """`proc.wait(timeout)` without its sleep-polling, which adds up to 50 ms per run.

    Blocks on a pidfd (Linux >= 5.3) until the process exits or `timeout` passes;
    falls back to `Popen.wait` where pidfds are unavailable.
    """
    try:
        pidfd = os.pidfd_open(proc.pid)  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):
        proc.wait(timeout=timeout)
        return
    try:
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        if not poller.poll(max(0, int(timeout * 1000))):  # retried after signals (PEP 475)
            raise subprocess.TimeoutExpired(proc.args, timeout)
    finally:
        os.close(pidfd)
    proc.wait()


def _execute_foreground(
    argv: Sequence[str],
    timeout: float,
    env: Optional[Mapping[str, str]],
    cwd: Optional[str],
) -> ProcessOutcome:
    start = time.monotonic()
    proc = _Popen(list(argv), env=dict(env) if env is not None else None, cwd=cwd)
    timed_out = False
    with _forwarding_signals(proc):
        try:
            _wait_exactly(proc, timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            kill_tree(proc.pid, own_group=False)
            proc.wait()
        except BaseException:
            kill_tree(proc.pid, own_group=False)
            proc.wait()
            raise
    return _outcome(proc, start, b"", b"", timed_out)


def _outcome(
    proc: _Popen, start: float, stdout: bytes, stderr: bytes, timed_out: bool
) -> ProcessOutcome:
    rusage = proc.rusage
    return ProcessOutcome(
        argv=list(proc.argv),
        returncode=proc.returncode,
        stdout=stdout,
        stderr=stderr,
        timed_out=timed_out,
        duration=time.monotonic() - start,
        max_rss_kb=int(rusage.ru_maxrss) if rusage is not None else None,
        cpu_time=(rusage.ru_utime + rusage.ru_stime) if rusage is not None else None,
    )


def run_tool(
    argv: Sequence[str], *, timeout: float = 60.0, cwd: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
) -> subprocess.CompletedProcess[str]:
    """Run a helper tool (a compiler, `qemu --version`) and capture its text output.

    Same guarantees as `execute`; a timeout shows as returncode -9 with a note on stderr.
    """
    outcome = execute(argv, timeout=timeout, cwd=cwd, env=env)
    stderr = outcome.stderr.decode(errors="replace")
    if outcome.timed_out:
        stderr += f"\n[killed after {timeout:g}s timeout]"
    return subprocess.CompletedProcess(
        outcome.argv, outcome.returncode, outcome.stdout.decode(errors="replace"), stderr
    )
