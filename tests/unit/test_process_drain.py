"""A killed run returns even when a process that escaped its tree keeps the pipes open."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

from pytest_xarch.process import execute

ESCAPE = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:          # re-parented to init, in its own session: outside our tree
        with open(sys.argv[1], "w") as pidfile:
            pidfile.write(str(os.getpid()))
        time.sleep(120)
    os._exit(0)
time.sleep(120)
"""


def test_output_is_given_up_on_instead_of_hanging(tmp_path: Path) -> None:
    pidfile = tmp_path / "escaped.pid"
    try:
        outcome = execute([sys.executable, "-c", ESCAPE, str(pidfile)], timeout=2)
        assert outcome.timed_out
        assert b"output lost: a process outside the killed tree kept the pipes open" in (
            outcome.stderr
        )
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
