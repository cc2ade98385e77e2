"""Daemons that leave the process tree are killed with their run, in either containment."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from pytest_xarch.process import execute

# Double-forks and calls setsid(): re-parented to init, in a session of its own.
DAEMON = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open(sys.argv[1], "w") as pidfile:
            pidfile.write(str(os.getpid()))
        time.sleep(120)
    os._exit(0)
time.sleep(float(sys.argv[2]))
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in {"Z", "X"}
    except OSError:
        return False


def _daemon_pid(pidfile: Path) -> int:
    deadline = time.monotonic() + 10
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline, "the daemon never started"
        time.sleep(0.01)
    return int(pidfile.read_text())


def test_a_daemon_dies_with_a_run_that_times_out(tmp_path: Path, containment_mode: str) -> None:
    pidfile = tmp_path / "daemon.pid"
    try:
        start = time.monotonic()
        outcome = execute([sys.executable, "-c", DAEMON, str(pidfile), "120"], timeout=2)
        assert outcome.timed_out
        assert time.monotonic() - start < 10  # no wait on pipes the daemon held
        assert not _alive(_daemon_pid(pidfile))
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_a_daemon_dies_when_its_run_exits_normally(tmp_path: Path, containment_mode: str) -> None:
    pidfile = tmp_path / "daemon.pid"
    try:
        outcome = execute([sys.executable, "-c", DAEMON, str(pidfile), "0.5"], timeout=60)
        assert (outcome.returncode, outcome.timed_out) == (0, False)
        assert outcome.duration < 10  # the daemon kept stdout open; the run did not wait for it
        assert not _alive(_daemon_pid(pidfile))
    finally:
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)
