"""Reading a process's output: bounded capture, and the stderr relay of foreground runs."""

from __future__ import annotations

import functools
import os
import re
import select
import selectors
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

READ_SIZE = 1 << 16
DRAIN_SECONDS = 5.0  # a process outside the run may hold the pipes open for ever


class BoundedOutput:
    """A stream's first and last bytes, at most `limit` in all; the middle is only counted."""

    def __init__(self, limit: int) -> None:
        self.head_limit = limit // 2
        self.tail_limit = limit - self.head_limit
        self.head = bytearray()
        self.tail: deque[bytes] = deque()
        self.tail_size = 0
        self.total = 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if not data:
            return
        self.tail.append(data)
        self.tail_size += len(data)
        while self.tail and self.tail_size - len(self.tail[0]) >= self.tail_limit:
            self.tail_size -= len(self.tail.popleft())

    @property
    def dropped(self) -> int:
        return max(0, self.total - len(self.head) - self.tail_limit)

    def value(self) -> bytes:
        """Head and tail; where the middle was dropped, a line says how much."""
        tail = b"".join(self.tail)
        if len(tail) > self.tail_limit:
            tail = tail[len(tail) - self.tail_limit:]
        if not self.dropped:
            return bytes(self.head) + tail
        note = f"\n[xarch: {self.dropped} bytes of output dropped here (output limit)]\n"
        return bytes(self.head) + note.encode() + tail


class ExitWatch:
    """Readable when the process has exited: a pidfd (Linux >= 5.3), else a short poll."""

    def __init__(self, proc: Any) -> None:
        self.proc = proc
        try:
            self.fd: Optional[int] = os.pidfd_open(proc.pid)  # type: ignore[attr-defined,unused-ignore]
        except (AttributeError, OSError):
            self.fd = None

    @property
    def poll_interval(self) -> Optional[float]:
        return None if self.fd is not None else 0.02

    def exited(self) -> bool:
        if self.fd is not None:
            return bool(select.select([self.fd], [], [], 0)[0])
        return self.proc.poll() is not None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class OutputWatch(Protocol):
    """Decides, from what a process prints as it runs, when to stop it before its timeout
    (a test binary's case that outlives its own limit)."""

    poll_interval: Optional[float]  # seconds between looks at `deadline` while all is quiet

    def feed(self, data: bytes) -> None:
        """Stdout bytes, as they arrive."""

    def feed_stderr(self, data: bytes) -> None:
        """Stderr bytes, as they arrive."""

    def read_round(self) -> None:
        """A round of reads begins: what it reads of the two streams was ready at once, so
        the order between them within the round is unknown."""

    def deadline(self) -> Optional[float]:
        """The `time.monotonic()` at which to stop the process, or None."""


class Pumps:
    """Feeds stdin and reads stdout/stderr of one process until it exits."""

    def __init__(self, selector: selectors.BaseSelector, proc: Any, stdin: Optional[bytes],
                 outputs: dict[Any, BoundedOutput], watch: ExitWatch,
                 output_watch: Optional[OutputWatch] = None) -> None:
        self.selector = selector
        self.outputs = outputs
        self.stdout = proc.stdout
        self.output_watch = output_watch
        self.open = set(outputs)
        self.watch = watch
        self.exited = False
        self.pending = memoryview(stdin or b"")
        for stream in outputs:
            os.set_blocking(stream.fileno(), False)
            selector.register(stream, selectors.EVENT_READ)
        self.stdin = proc.stdin
        if self.stdin is not None:
            if self.pending:
                os.set_blocking(self.stdin.fileno(), False)
                selector.register(self.stdin, selectors.EVENT_WRITE)
            else:
                self.stdin.close()
        if watch.fd is not None:
            selector.register(watch.fd, selectors.EVENT_READ)

    def step(self, wait: float) -> None:
        """Wait up to `wait` seconds for something to do, and do it."""
        interval = self.watch.poll_interval
        ready = self.selector.select(min(wait, interval) if interval else wait)
        if ready and self.output_watch is not None:
            self.output_watch.read_round()
        # Stdout first: a watch orders the two streams by what it read (see `read_round`).
        for key, _ in sorted(ready, key=lambda event: event[0].fileobj is not self.stdout):
            if key.fileobj is self.stdin:
                self._write()
            elif key.fileobj in self.open:
                self._read(key.fileobj)
        if self.watch.exited():
            self.exited = True

    def _write(self) -> None:
        assert self.stdin is not None
        try:
            written = os.write(self.stdin.fileno(), self.pending[:READ_SIZE])
        except BlockingIOError:
            return
        except OSError:  # the reader is gone: the rest is not wanted
            written = len(self.pending)
        self.pending = self.pending[written:]
        if not self.pending:
            self.selector.unregister(self.stdin)
            self.stdin.close()

    def _read(self, stream: Any) -> None:
        try:
            data = os.read(stream.fileno(), READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.outputs[stream].feed(data)
            if self.output_watch is not None:
                if stream is self.stdout:
                    self.output_watch.feed(data)
                else:
                    self.output_watch.feed_stderr(data)
            return
        self.selector.unregister(stream)
        self.open.discard(stream)

    def drain(self, seconds: float) -> None:
        """Read what is left until every writer is gone or `seconds` pass."""
        deadline = time.monotonic() + seconds
        while self.open:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            ready = self.selector.select(remaining)
            if ready and self.output_watch is not None:
                self.output_watch.read_round()
            for key, _ in sorted(ready, key=lambda event: event[0].fileobj is not self.stdout):
                if key.fileobj in self.open:
                    self._read(key.fileobj)


def isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


@dataclass(frozen=True)
class LineFilter:
    """Lines to drop from a stream: those `pattern` matches, which all start with `prefix`."""

    pattern: re.Pattern[bytes]
    prefix: bytes

    def could_become(self, partial: bytes) -> bool:
        """Whether an unfinished line may still turn into one to drop."""
        return self.prefix.startswith(partial) or partial.startswith(self.prefix)


class StderrRelay:
    """Copies a child's stderr to ours (or to `sink`) as it comes, without the lines `drop`
    matches.

    Only a trailing partial line that could still become such a line is held back.
    """

    def __init__(self, drop: LineFilter, sink: Optional[Callable[[bytes], None]] = None) -> None:
        self.drop = drop
        self.sink = sink or functools.partial(_write_all, 2)
        self.held = b""

    def feed(self, data: bytes) -> None:
        data = self.held + data
        cut = data.rfind(b"\n") + 1
        complete, partial = data[:cut], data[cut:]
        self.held = partial if partial and self.drop.could_become(partial) else b""
        self.sink(self.drop.pattern.sub(b"", complete) + (b"" if self.held else partial))

    def flush(self) -> None:
        self.sink(self.drop.pattern.sub(b"", self.held))
        self.held = b""


class FilteredWatch:
    """An OutputWatch that sees stderr without the lines `drop` matches (QEMU's banner)."""

    def __init__(self, watch: OutputWatch, drop: LineFilter) -> None:
        self.watch = watch
        self.poll_interval = watch.poll_interval
        self.stderr = StderrRelay(drop, watch.feed_stderr)

    def feed(self, data: bytes) -> None:
        self.watch.feed(data)

    def feed_stderr(self, data: bytes) -> None:
        self.stderr.feed(data)

    def read_round(self) -> None:
        self.watch.read_round()

    def deadline(self) -> Optional[float]:
        return self.watch.deadline()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [])
        except OSError:  # our stderr is gone: nothing to tell it
            return


def relay_once(fd: int, relay: StderrRelay, readable: list[int]) -> None:
    data = os.read(fd, READ_SIZE)
    if data:
        relay.feed(data)
    elif fd in readable:
        readable.remove(fd)


def relay_rest(fd: int, relay: StderrRelay, readable: list[int]) -> None:
    deadline = time.monotonic() + DRAIN_SECONDS
    while fd in readable and time.monotonic() < deadline:
        if select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
            relay_once(fd, relay, readable)
    relay.flush()


