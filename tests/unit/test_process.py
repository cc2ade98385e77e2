"""process.execute: timeouts that kill whole trees, stdin/stdout, rusage; run_tool."""

from __future__ import annotations

import os
import signal
import sys
import uuid

import psutil
import pytest

from pytest_xarch.process import execute, run_tool

SH = "/bin/bash"  # for `exec -a NAME`, which tags processes to look for afterwards


def _survivors(token: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if any(token in part for part in cmdline) and proc.pid != os.getpid():
            found.append(proc)
    return found


def test_output_status_and_stdin() -> None:
    outcome = execute([SH, "-c", "cat; echo err >&2; exit 3"], timeout=30, stdin="in\n")
    assert outcome.returncode == 3
    assert (outcome.stdout, outcome.stderr) == (b"in\n", b"err\n")
    assert not outcome.timed_out
    assert outcome.duration > 0
    assert outcome.cpu_time is not None and outcome.cpu_time >= 0
    assert outcome.max_rss_kb is not None and outcome.max_rss_kb > 0


def test_stdin_defaults_to_devnull() -> None:
    outcome = execute([SH, "-c", "cat; echo done"], timeout=30)
    assert outcome.stdout == b"done\n"


def test_env_and_cwd(tmp_path) -> None:  # type: ignore[no-untyped-def]
    outcome = execute(
        [SH, "-c", 'echo "$ONLY" "$(pwd)"'], timeout=30, env={"ONLY": "yes"}, cwd=str(tmp_path)
    )
    assert outcome.stdout.decode().split() == ["yes", str(tmp_path)]


def test_death_by_signal_is_negative() -> None:
    outcome = execute([SH, "-c", "kill -SEGV $$"], timeout=30)
    assert outcome.returncode == -signal.SIGSEGV
    assert not outcome.timed_out


def test_timeout_kills_the_whole_tree_including_children_ignoring_sigterm() -> None:
    token = f"xarch-test-{uuid.uuid4().hex}"
    script = (
        f"trap '' TERM; (trap '' TERM; exec -a {token} sleep 300) & "
        f"(trap '' TERM; sleep 300; : {token}) & echo started; wait"
    )
    outcome = execute([SH, "-c", script, token], timeout=1.0)
    assert outcome.timed_out
    assert outcome.stdout == b"started\n"
    assert outcome.returncode == -signal.SIGKILL
    assert _survivors(token) == []


def test_timeout_kills_a_daemonised_grandchild_in_the_session() -> None:
    token = f"xarch-test-{uuid.uuid4().hex}"
    # The grandchild is re-parented to init when its parent exits: still killed with the group.
    script = f"( (exec -a {token} sleep 300) & ) ; sleep 300"
    outcome = execute([SH, "-c", script], timeout=1.0)
    assert outcome.timed_out
    assert _survivors(token) == []


def test_leftover_daemons_are_reaped_after_a_normal_exit() -> None:
    token = f"xarch-test-{uuid.uuid4().hex}"
    outcome = execute(
        [SH, "-c", f"(exec -a {token} sleep 300) >/dev/null 2>&1 & exit 0"], timeout=30
    )
    assert outcome.returncode == 0
    psutil.wait_procs(_survivors(token), timeout=5)
    assert _survivors(token) == []


def test_nonpositive_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="timeout must be positive"):
        execute([SH, "-c", "true"], timeout=0)


def test_foreground_mode_inherits_stdio_and_reports_status() -> None:
    outcome = execute([SH, "-c", "exit 5"], timeout=30, capture=False)
    assert outcome.returncode == 5
    assert (outcome.stdout, outcome.stderr) == (b"", b"")


def test_foreground_timeout_kills_the_tree() -> None:
    token = f"xarch-test-{uuid.uuid4().hex}"
    script = f"trap '' TERM; (trap '' TERM; exec -a {token} sleep 300) & wait"
    outcome = execute([SH, "-c", script], timeout=1.0, capture=False)
    assert outcome.timed_out
    assert _survivors(token) == []


def test_run_tool_returns_text_and_notes_timeouts() -> None:
    completed = run_tool([sys.executable, "-c", "print('hello')"], timeout=30)
    assert (completed.returncode, completed.stdout) == (0, "hello\n")
    slow = run_tool([SH, "-c", "sleep 300"], timeout=0.5)
    assert slow.returncode == -signal.SIGKILL
    assert "killed after 0.5s timeout" in slow.stderr
