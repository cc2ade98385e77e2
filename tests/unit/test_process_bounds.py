"""Bounded capture and the stderr relay, byte by byte."""

from __future__ import annotations

import os
import re

import pytest

from pytest_xarch import process
from pytest_xarch.process import BoundedOutput, LineFilter, capture

BANNER = LineFilter(re.compile(rb"^qemu: uncaught target signal \d+ [^\n]*\n?", re.MULTILINE),
                    b"qemu: uncaught target signal ")


def test_bounded_output_keeps_everything_under_its_limit() -> None:
    kept = BoundedOutput(100)
    for chunk in (b"a" * 30, b"b" * 30, b"c" * 40):
        kept.feed(chunk)
    assert kept.value() == b"a" * 30 + b"b" * 30 + b"c" * 40
    assert kept.dropped == 0


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])
def test_bounded_output_keeps_head_and_tail_and_counts_the_middle(chunk: int) -> None:
    data = bytes(range(256)) * 40  # 10240 bytes
    kept = BoundedOutput(1000)
    for start in range(0, len(data), chunk):
        kept.feed(data[start:start + chunk])
    assert kept.dropped == len(data) - 1000
    head, note, tail = kept.value().partition(
        f"\n[xarch: {len(data) - 1000} bytes of output dropped here (output limit)]\n".encode())
    assert note and head == data[:500] and tail == data[-500:]


class _Stderr:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.written = b""
        monkeypatch.setattr(capture, "_write_all", self._write)

    def _write(self, fd: int, data: bytes) -> None:
        assert fd == 2
        self.written += data


def test_the_relay_drops_banner_lines_and_passes_the_rest_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stderr = _Stderr(monkeypatch)
    relay = capture.StderrRelay(BANNER)
    relay.feed(b"warning: x\nprompt> ")
    assert stderr.written == b"warning: x\nprompt> "  # a partial line that is no banner
    relay.feed(b"\nqemu: uncaught ")
    assert stderr.written == b"warning: x\nprompt> \n"  # this one may still become one
    relay.feed(b"target signal 11 (Segmentation fault) - core dumped\nafter\n")
    relay.flush()
    assert stderr.written == b"warning: x\nprompt> \nafter\n"


def test_the_relay_flushes_a_held_line_that_never_became_a_banner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stderr = _Stderr(monkeypatch)
    relay = capture.StderrRelay(BANNER)
    relay.feed(b"qemu")
    relay.flush()
    assert stderr.written == b"qemu"


def test_foreground_stderr_goes_through_the_relay_when_it_is_not_a_terminal(
    tmp_path: object, capfd: pytest.CaptureFixture[str],
) -> None:
    script = ("printf 'one\\nqemu: uncaught target signal 4 (Illegal instruction)\\n"
              "two\\n' >&2; exit 3")
    outcome = process.execute(["/bin/sh", "-c", script], timeout=30, capture=False,
                              stderr_filter=BANNER)
    assert outcome.returncode == 3
    assert capfd.readouterr().err == "one\ntwo\n"
    assert not os.isatty(2)


def test_a_watch_of_a_captured_run_sees_stderr_without_the_banner() -> None:
    class Watch:
        poll_interval = None

        def __init__(self) -> None:
            self.stderr = b""

        def feed(self, data: bytes) -> None:
            pass

        def feed_stderr(self, data: bytes) -> None:
            self.stderr += data

        def read_round(self) -> None:
            pass

        def deadline(self) -> None:
            return None

    watch = Watch()
    script = "printf 'mine\\nqemu: uncaught target signal 11 (Segmentation fault)\\n' >&2"
    outcome = process.execute(["/bin/sh", "-c", script], timeout=30, stderr_filter=BANNER,
                              watch=watch)
    assert watch.stderr == b"mine\n"
    assert b"uncaught" in outcome.stderr  # the runner's finish() reads the banner from here
