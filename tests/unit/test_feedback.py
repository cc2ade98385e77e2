"""Lines about long work: said when the work outlasts its threshold, and how it ended."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from pytest_xarch import feedback


@pytest.fixture
def heard(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The lines said, to this test alone (not to the session's own listener)."""
    monkeypatch.setattr(feedback, "_listeners", [])
    lines: list[str] = []
    stop = feedback.listen(lines.append)
    yield lines
    stop()


def test_quick_work_says_nothing(heard: list[str]) -> None:
    with feedback.slow("building x.c", after=0.5):
        pass
    time.sleep(0.6)  # the timer would have fired by now
    assert heard == []


def test_long_work_says_what_and_how_it_ended(heard: list[str]) -> None:
    with feedback.slow("building x.c", after=0.05):
        time.sleep(0.3)
    assert heard[0] == "building x.c ..."
    assert heard[1].startswith("building x.c: done in ")
    with pytest.raises(RuntimeError), feedback.slow("listing y", after=0.05):
        time.sleep(0.3)
        raise RuntimeError("boom")
    assert heard[3].startswith("listing y: failed after ")


def test_nobody_listening_costs_no_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    def timers() -> set[threading.Thread]:
        return {thread for thread in threading.enumerate() if isinstance(thread, threading.Timer)}

    monkeypatch.setattr(feedback, "_listeners", [])
    before = timers()
    with feedback.slow("unheard", after=60):
        assert timers() == before
    feedback.listen(lambda line: None)
    with feedback.slow("heard", after=60):
        assert timers() - before


def test_a_failing_listener_never_stops_the_work(heard: list[str]) -> None:
    def broken(line: str) -> None:
        raise OSError("stderr is gone")

    stop = feedback.listen(broken)
    try:
        feedback.tell("hello")
    finally:
        stop()
    assert heard == ["hello"]
