"""Spawning processes with a timeout, contained, with bounded output and their rusage.

Every process this package starts goes through `execute`. It always has a
timeout, and it always runs in a `containment` scope: when its first process
exits, times out or the caller is interrupted, everything it started is killed,
daemons included, and nothing is left behind. Captured output keeps a head and
a tail of at most `output_limit` bytes per stream; the middle is counted, not kept.
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional, Union

from .. import containment
from .capture import (
    DRAIN_SECONDS,
    BoundedOutput,
    ExitWatch,
    FilteredWatch,
    LineFilter,
    OutputWatch,
    Pumps,
    StderrRelay,
    isatty,
    relay_once,
    relay_rest,
)

__all__ = [
    "DEFAULT_OUTPUT_LIMIT", "MAX_TIMEOUT", "BoundedOutput", "LineFilter", "OutputWatch",
    "ProcessOutcome",
    "StdinData", "execute", "run_tool",
]

StdinData = Union[str, bytes, None]

DEFAULT_OUTPUT_LIMIT = 32 * 1024 * 1024  # bytes kept per stream: half head, half tail
# The longest wait one poll() takes (a C int of milliseconds); longer timeouts are
# waited in slices, and configured ones are refused above it (see MAX_TIMEOUT).
MAX_TIMEOUT = (2**31 - 1) / 1000
_WAIT_SLICE = 3600.0
_READ_SIZE = 1 << 16


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
    stdout_dropped: int = 0  # bytes left out of the middle of stdout (output_limit)
    stderr_dropped: int = 0
    stopped_early: bool = False  # timed out at an OutputWatch's deadline, before `timeout`


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
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
    persistent: bool = False,
    stderr_filter: Optional[LineFilter] = None,
    watch: Optional[OutputWatch] = None,
) -> ProcessOutcome:
    """Run `argv` until its first process exits or `timeout` seconds pass; leave nothing.

    With `capture`, the process gets its own session, stdin is `stdin` (or
    /dev/null) and output is captured (bounded by `output_limit` per stream).
    Without it, stdio is inherited (the process runs in the foreground, as a
    shell would run it) and SIGINT, SIGTERM and SIGHUP sent to us are forwarded
    to it; a second one kills the run. There, `stderr_filter` names lines to keep
    off our stderr (QEMU's signal banner); it applies when stderr is not a
    terminal, whose programs may want it as their own. In captured runs, the
    `watch` sees stderr without those lines. A `persistent` process (an
    SSH ControlMaster) may leave a daemon that lives until this process ends.
    A `watch` (captured runs) sees the output as it comes and may stop the run earlier,
    as a timeout (`stopped_early`).
    """
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    scope = _new_scope(persistent)
    try:
        if capture:
            if watch is not None and stderr_filter is not None:
                watch = FilteredWatch(watch, stderr_filter)
            return _execute_captured(list(argv), timeout, _as_bytes(stdin), env, cwd, scope,
                                     output_limit, watch)
        relay = StderrRelay(stderr_filter) if stderr_filter and not isatty(2) else None
        return _execute_foreground(list(argv), timeout, env, cwd, scope, relay)
    finally:
        scope.close()


def _new_scope(persistent: bool) -> containment.RunScope:
    return containment.current().scope(persistent=persistent)


def _spawn(argv: list[str], scope: containment.RunScope, env: Optional[Mapping[str, str]],
           **kwargs: Any) -> _Popen:
    """Popen of the run's first process: tagged, and dumping no core (see `containment`)."""
    environment = scope.environment(dict(os.environ if env is None else env))
    with containment.core_dumps_off():
        return _Popen(argv, env=environment, **kwargs)


def _execute_captured(
    argv: list[str],
    timeout: float,
    stdin: Optional[bytes],
    env: Optional[Mapping[str, str]],
    cwd: Optional[str],
    scope: containment.RunScope,
    output_limit: int,
    output_watch: Optional[OutputWatch] = None,
) -> ProcessOutcome:
    start = time.monotonic()
    proc = _spawn(
        argv, scope, env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, start_new_session=True,
    )
    scope.started(proc.pid, own_group=True)
    outputs = {proc.stdout: BoundedOutput(output_limit), proc.stderr: BoundedOutput(output_limit)}
    watch = ExitWatch(proc)
    timed_out = stopped_early = False
    try:
        with selectors.DefaultSelector() as selector:
            pumps = Pumps(selector, proc, stdin, outputs, watch, output_watch)
            deadline = start + timeout
            while not pumps.exited:
                early = output_watch.deadline() if output_watch is not None else None
                stop = min(deadline, early) if early is not None else deadline
                remaining = stop - time.monotonic()
                if remaining <= 0:
                    timed_out, stopped_early = True, stop < deadline
                    break
                interval = output_watch.poll_interval if output_watch is not None else None
                pumps.step(min(remaining, _WAIT_SLICE, interval or _WAIT_SLICE))
            if not scope.persistent or timed_out:
                scope.kill()  # leftovers: daemons, background children (on timeout, all)
            pumps.drain(DRAIN_SECONDS if not scope.persistent else 1.0)
    except BaseException:  # KeyboardInterrupt, a pytest timeout plugin: leave nothing
        scope.kill()
        raise
    finally:
        watch.close()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        scope.close()  # before the wait: the unreaped first process keeps its pid ours
        proc.wait()
    stdout, stderr = outputs[proc.stdout], outputs[proc.stderr]
    outcome = _outcome(proc, start, stdout.value(), stderr.value(), timed_out,
                       stdout.dropped, stderr.dropped)
    outcome.stopped_early = stopped_early
    return outcome


_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextlib.contextmanager
def _forwarding_signals(proc: subprocess.Popen[bytes], scope: containment.RunScope
                        ) -> Iterator[None]:
    """Forward termination signals to `proc` while the block runs; a second one kills the run.

    Only the main thread can install handlers; elsewhere nothing is forwarded.
    """
    received: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        received.append(signum)
        if len(received) > 1:
            scope.kill()
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    try:
        previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _execute_foreground(
    argv: list[str],
    timeout: float,
    env: Optional[Mapping[str, str]],
    cwd: Optional[str],
    scope: containment.RunScope,
    relay: Optional[StderrRelay],
) -> ProcessOutcome:
    start = time.monotonic()
    proc = _spawn(argv, scope, env, cwd=cwd,
                  stderr=subprocess.PIPE if relay is not None else None)
    scope.started(proc.pid, own_group=False)
    watch = ExitWatch(proc)
    timed_out = False
    readable = [fd for fd in (watch.fd, proc.stderr.fileno() if proc.stderr else None)
                if fd is not None]
    try:
        with _forwarding_signals(proc, scope):
            deadline = start + timeout
            while not watch.exited():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                wait = min(remaining, watch.poll_interval or _WAIT_SLICE)
                ready = select.select(readable, [], [], wait)[0]  # retried after signals
                if relay is not None and proc.stderr is not None and proc.stderr.fileno() in ready:
                    relay_once(proc.stderr.fileno(), relay, readable)
        scope.kill()
        if relay is not None and proc.stderr is not None:
            relay_rest(proc.stderr.fileno(), relay, readable)
    except BaseException:
        scope.kill()
        raise
    finally:
        watch.close()
        if proc.stderr is not None:
            proc.stderr.close()
        scope.close()  # before the wait: the unreaped first process keeps its pid ours
        proc.wait()
    return _outcome(proc, start, b"", b"", timed_out)


def _outcome(
    proc: _Popen, start: float, stdout: bytes, stderr: bytes, timed_out: bool,
    stdout_dropped: int = 0, stderr_dropped: int = 0,
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
        stdout_dropped=stdout_dropped,
        stderr_dropped=stderr_dropped,
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
