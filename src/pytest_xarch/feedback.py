"""Lines about long work while it happens: a first zig build, the listing of a big binary.

Work that may take long runs inside `slow(what)`. When it is still running after
`after` seconds, every listener gets "WHAT ..."; when it ends, "WHAT: done in N s"
(or "failed after"). Quick work says nothing, and nothing is said while nobody
listens: the pytest plugin and the command line register a listener.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

SLOW_AFTER = 3.0  # seconds of work before a line says what is going on

Listener = Callable[[str], None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> Callable[[], None]:
    """Send lines about long work to `listener`; returns the call that stops it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def tell(line: str) -> None:
    """Say `line` to every listener (a listener's failure never stops the work)."""
    for listener in list(_listeners):
        with contextlib.suppress(Exception):
            listener(line)


@contextlib.contextmanager
def slow(what: str, *, after: float = SLOW_AFTER) -> Iterator[None]:
    """Say `what` if the block is still running after `after` seconds, and how it ended."""
    if not _listeners:
        yield
        return
    start = time.monotonic()
    lock = threading.Lock()
    state = {"said": False, "over": False}

    def say() -> None:
        with lock:
            if state["over"]:
                return
            state["said"] = True
        tell(f"{what} ...")

    timer = threading.Timer(after, say)
    timer.daemon = True
    timer.start()
    ended = "failed after"
    try:
        yield
        ended = "done in"
    finally:
        timer.cancel()
        with lock:
            state["over"] = True
            said = state["said"]
        if said:
            tell(f"{what}: {ended} {time.monotonic() - start:.0f} s")
