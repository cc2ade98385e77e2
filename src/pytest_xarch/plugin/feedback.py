"""Lines about long work (see `pytest_xarch.feedback`) on the terminal while it happens:
also while pytest captures a test's output, and from xdist workers."""

from __future__ import annotations

import os
from typing import Optional

import pytest

from .. import feedback
from .keys import is_worker


def register(config: pytest.Config) -> None:
    """Listen for the session. Called from `pytest_configure`, where pytest's capture is
    suspended: fd 2 is then the real stderr, and a copy of it stays so while tests run."""
    try:
        fd = os.dup(2)
    except OSError:
        return
    worker = config.workerinput["workerid"] if is_worker(config) else None  # type: ignore[attr-defined]
    prefix = f"[{worker}] xarch: " if worker else "xarch: "
    ours = [-1]  # the terminal line's width after our last line: nothing written since

    def write(line: str) -> None:
        # Start on a line of our own: pytest's progress line (a worker's controller's, which
        # it cannot see) may be half-written.
        width = None if worker else _line_width(config)
        fresh = width is not None and width in (0, ours[0])
        ours[0] = -1 if width is None else width
        os.write(fd, f"{'' if fresh else chr(10)}{prefix}{line}\n".encode(errors="replace"))

    stop = feedback.listen(write)

    def close() -> None:
        stop()
        os.close(fd)

    config.add_cleanup(close)


def _line_width(config: pytest.Config) -> Optional[int]:
    """How much of the terminal's current line pytest has written (None: no terminal)."""
    if config.pluginmanager.get_plugin("terminalreporter") is None:  # -p no:terminal
        return None
    return config.get_terminal_writer().width_of_current_line
