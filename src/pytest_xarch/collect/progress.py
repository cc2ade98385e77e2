"""Which case of a batch is running, from the binary's output as it arrives.

A batch launch runs many cases; its own limit is a backstop for all of them. A
`CaseProgress` follows the framework's progress markers (GoogleTest's `[ RUN ]`,
Go's `=== RUN`, libtest's `test NAME ... `, the `<TestCase>` elements Catch2 and
doctest flush into their XML report) and gives the process layer a deadline:
when the running case outlives its own timeout, the launch is stopped there,
that case is reported timed out, and the rest of the batch runs again.

It also files the stderr that arrives after a case's start marker, until the
next case starts, under that case, so that a failed or crashed case shows its
own stderr, not the whole launch's (see `CaseProgress.feed_stderr`); when the
order of the two streams cannot be told, it says so instead of guessing.
"""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Optional

_MAX_PARTIAL = 64 * 1024  # an unfinished line kept for matching, at most
_MAX_CASE_STDERR = 64 * 1024  # a case's own stderr kept (its tail), at most


class CaseProgress:
    """The running case and since when (a `process.OutputWatch`)."""

    poll_interval: Optional[float] = None

    def __init__(self, case_timeout: float) -> None:
        self.case_timeout = case_timeout
        self.running: Optional[str] = None
        self.since = 0.0
        self.latest: Optional[str] = None  # the case that started last (running or not)
        self.round_began_in: Optional[str] = None  # `running` when this round of reads began
        self.stderr: dict[str, bytearray] = {}  # case -> what it wrote to stderr
        self.mixed = False  # some stderr could be one of two cases': none is told apart

    def started(self, case: str) -> None:
        self.running, self.since, self.latest = case, time.monotonic(), case
        self.stderr.setdefault(case, bytearray())

    def ended(self) -> None:
        self.running = None

    def feed(self, data: bytes) -> None:
        """Stdout bytes; the base class reads none."""

    def read_round(self) -> None:
        self.round_began_in = self.running

    def feed_stderr(self, data: bytes) -> None:
        """Stderr bytes: the case that started last. The two streams come through two
        pipes, so their order is what the reader saw: what arrives after a case's start
        marker, until the next start, is that case's (a case's stderr is written before
        its end marker; read after it, it is still its). When one round of reads took in
        a case's end, the next one's start and stderr, the stderr may be either's: the
        launch then tells no case's stderr apart (`case_stderr` is empty)."""
        if self.latest is None:
            return  # before the first case: the binary's own start-up
        if self.round_began_in is not None and self.round_began_in != self.latest:
            self.mixed = True  # the case running when the round began ended in it
        own = self.stderr[self.latest]
        own += data
        del own[:-_MAX_CASE_STDERR]

    def case_stderr(self) -> dict[str, str]:
        """Each started case's own stderr; empty when the order could not be told."""
        if self.mixed:
            return {}
        return {case: data.decode(errors="replace") for case, data in self.stderr.items()}

    def deadline(self) -> Optional[float]:
        return self.since + self.case_timeout if self.running is not None else None


class LineProgress(CaseProgress):
    """Progress from whole stdout lines: `start` names the case (group 1), `end` ends it."""

    def __init__(self, case_timeout: float, start: re.Pattern[str],
                 end: re.Pattern[str]) -> None:
        super().__init__(case_timeout)
        self.start, self.end = start, end
        self.partial = ""

    def feed(self, data: bytes) -> None:
        text = self.partial + data.decode(errors="replace")
        *lines, partial = text.split("\n")
        self.partial = partial[-_MAX_PARTIAL:]
        for line in lines:
            self.line(line.rstrip("\r"))

    def line(self, line: str) -> None:
        started = self.start.match(line)
        if started:
            self.started(started.group(1))
        elif self.end.match(line):
            self.ended()


class LibtestProgress(LineProgress):
    """libtest (one test thread) writes `test NAME ... ` and the result when it is done,
    on the same line: an unfinished such line is the running case."""

    _ANNOUNCED = re.compile(r"^test (\S+) \.\.\. ")

    def __init__(self, case_timeout: float) -> None:
        super().__init__(case_timeout, self._ANNOUNCED, self._ANNOUNCED)

    def feed(self, data: bytes) -> None:
        super().feed(data)
        pending = self._ANNOUNCED.match(self.partial)
        if pending and self.running != pending.group(1):
            self.started(pending.group(1))

    def line(self, line: str) -> None:
        if self._ANNOUNCED.match(line):
            self.ended()  # the line is complete: the case has its result


class ReportProgress(CaseProgress):
    """Progress from an XML report the binary flushes element by element."""

    poll_interval = 0.25
    _OPEN = re.compile(rb'<TestCase\b[^>]*?\bname="([^"]*)"[^>]*?(/?)>')
    _CLOSE = re.compile(rb"</TestCase>")

    def __init__(self, case_timeout: float, report: Path) -> None:
        super().__init__(case_timeout)
        self.report = report
        self.offset = 0
        self.buffer = b""

    def deadline(self) -> Optional[float]:
        self._poll()
        return super().deadline()

    def feed_stderr(self, data: bytes) -> None:
        self._poll()  # the report as far as written: who is running now
        super().feed_stderr(data)

    def _poll(self) -> None:
        try:
            with open(self.report, "rb") as stream:
                stream.seek(self.offset)
                data = stream.read(1 << 20)
        except OSError:
            return
        self.offset += len(data)
        self.buffer += data
        position = 0
        while True:
            opened = self._OPEN.search(self.buffer, position)
            closed = self._CLOSE.search(self.buffer, position)
            if opened and (closed is None or opened.start() < closed.start()):
                if opened.group(2) == b"/":  # <TestCase .../>: over as soon as written
                    self.ended()
                else:
                    self.started(_unescape(opened.group(1).decode(errors="replace")))
                position = opened.end()
            elif closed:
                self.ended()
                position = closed.end()
            else:
                break
        self.buffer = self.buffer[position:][-_MAX_PARTIAL:]


def _unescape(text: str) -> str:
    return html.unescape(text)
