"""No survivors, whatever happens: real aarch64 guests under real QEMU, real signals.

Every scenario starts a guest that leaves processes behind (a double-forked
setsid() daemon, or a background child that ignores SIGTERM), ends the run in
some way (it exits, it times out, `xarch run` or pytest is signalled, an xdist
worker is SIGKILLed) and then asserts that no guest and no QEMU process is left,
that no `xarch-*` scratch directory or cgroup remains, and, for pytest, that the
records say what happened.

Each guest program is copied to a path of its own: QEMU keeps the program path on
its command line, and so does every process the guest forks, so the path finds
all of them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from pytest_xarch import containment, run

from ..support.build import CrossBuilder
from ..support.processes import processes_with, wait_gone
from ..support.tools import require_tool

pytestmark = pytest.mark.integration

# spawner MODE MAIN_SECONDS
#   MODE daemon: double-fork, setsid(), the grandchild ignores SIGTERM and sleeps 300 s
#   MODE child:  one background child that ignores SIGTERM and sleeps 300 s
# Then "ready" is printed (and flushed) and the main sleeps MAIN_SECONDS (0: exits 7 at once).
SPAWNER = r"""
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int daemon = argc > 1 && strcmp(argv[1], "daemon") == 0;
    int seconds = argc > 2 ? atoi(argv[2]) : 0;
    int ready[2];
    if (pipe(ready) != 0) return 2;
    pid_t child = fork();
    if (child == 0) {
        if (daemon) {
            setsid();
            if (fork() != 0) _exit(0);
        }
        signal(SIGTERM, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        write(ready[1], "r", 1);
        for (int i = 0; i < 300; i++) sleep(1);
        _exit(0);
    }
    char byte;
    read(ready[0], &byte, 1);
    printf("ready\n");
    fflush(stdout);
    for (int i = 0; i < seconds; i++) sleep(1);
    return 7;
}
"""


@pytest.fixture(scope="module")
def spawner_build(cross_build: CrossBuilder) -> Path:
    require_tool("qemu-aarch64", "qemu-user")
    return cross_build.build("aarch64", SPAWNER, "-static", name="spawner")


@pytest.fixture
def spawner(spawner_build: Path, tmp_path: Path) -> Iterator[Path]:
    """The spawner at a path of this test's own; asserts afterwards that nothing is left."""
    program = tmp_path / f"spawner-{os.getpid()}-{time.monotonic_ns()}"
    shutil.copy2(spawner_build, program)
    scratch_before = set(_scratch_dirs())
    try:
        yield program
    finally:
        survivors = wait_gone(str(program))
        for proc in survivors:  # never leave them to the next test
            proc.kill()
        assert survivors == [], f"survivors: {[p.info for p in survivors]}"
    # After a SIGKILL or SIGTERM, a guardian cleans up on its own time: give it some.
    deadline = time.monotonic() + 10
    while _owned_scratch(set(_scratch_dirs()) - scratch_before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _owned_scratch(set(_scratch_dirs()) - scratch_before) == []


def _scratch_dirs() -> list[Path]:
    return sorted(Path(os.environ.get("TMPDIR", "/tmp")).glob("xarch-*-*-*"))


def _owned_scratch(new: set[Path]) -> list[Path]:
    """New scratch directories whose owner process has ended (so nobody removes them)."""
    left = []
    for folder in sorted(new):
        if not folder.name.split("-")[1].isdigit():
            continue
        owner = int(folder.name.split("-")[1])
        if not psutil.pid_exists(owner) and folder.exists():
            left.append(folder)
    return left


def _cgroups_of_dead_owners() -> list[Path]:
    """Session cgroups anywhere in the hierarchy whose owner has ended."""
    from pytest_xarch.containment.cgroups import _cgroup2_mount

    mount = _cgroup2_mount()
    if mount is None:
        return []
    found = []
    for root, folders, _ in os.walk(mount[0], onerror=lambda error: None):
        for name in folders:
            parts = name.split("-")
            if (name.startswith("xarch-") and len(parts) == 3 and parts[1].isdigit()
                    and not psutil.pid_exists(int(parts[1]))):
                found.append(Path(root) / name)
    return found


def _wait_for(predicate: object, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _guests_running(program: Path, count: int) -> bool:
    return len(processes_with(str(program))) >= count


def _xarch(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest_xarch.cli", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        env={**os.environ, **(env or {})},
    )


MODES = pytest.mark.parametrize("mode", ["cgroup", "process"])


def _require_mode(mode: str) -> dict[str, str]:
    from ..support.tools import missing

    try:
        containment.probe(mode)
    except Exception as problem:  # SetupError: no cgroup access here
        missing(f"containment {mode}: {problem}")
    return {"XARCH_CONTAINMENT": mode}


# -- xarch run ------------------------------------------------------------------------


@MODES
def test_xarch_run_timeout_kills_a_daemon(spawner: Path, mode: str) -> None:
    env = _require_mode(mode)
    proc = _xarch("run", "--target", "aarch64", "--timeout", "3", "--",
                  str(spawner), "daemon", "300", env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 124, err.decode()
    assert out == b"ready\n"
    assert b"timed out after 3s" in err


@MODES
def test_xarch_run_kills_the_background_child_of_a_guest_that_exits(
    spawner: Path, mode: str
) -> None:
    env = _require_mode(mode)
    start = time.monotonic()
    proc = _xarch("run", "--target", "aarch64", "--", str(spawner), "child", "0", env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 7, err.decode()  # the guest's own status, at once
    assert out == b"ready\n"
    assert time.monotonic() - start < 30  # not held by the child's copy of stdout


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
@MODES
def test_a_signal_to_xarch_run_takes_a_stubborn_child_down(
    spawner: Path, mode: str, signum: int
) -> None:
    env = _require_mode(mode)
    proc = _xarch("run", "--target", "aarch64", "--", str(spawner), "child", "300", env=env)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    assert _guests_running(spawner, 2)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err.decode()  # the guest died of the signal
    assert b"Traceback" not in err


# -- the library ----------------------------------------------------------------------


@MODES
def test_run_kills_a_daemon_at_the_timeout_and_a_child_at_exit(spawner: Path, mode: str) -> None:
    _require_mode(mode)
    with containment.scoped(mode):
        timed = run("aarch64", [str(spawner), "daemon", "300"], timeout=3)
        assert timed.timed_out and timed.stdout == "ready\n", timed.explain()
        assert wait_gone(str(spawner)) == []
        start = time.monotonic()
        exited = run("aarch64", [str(spawner), "child", "0"], timeout=120)
        assert (exited.returncode, exited.timed_out) == (7, False), exited.explain()
        assert time.monotonic() - start < 30


def test_no_core_file_and_no_banner_in_the_foreground(
    cross_build: CrossBuilder, tmp_path: Path
) -> None:
    segv = cross_build.build("aarch64", "#include <signal.h>\nint main(void){raise(SIGSEGV);}\n",
                             "-static", name="segv")
    proc = subprocess.run(
        ["sh", "-c", f"ulimit -c unlimited; exec {sys.executable} -m pytest_xarch.cli run "
                     f"--target aarch64 -- {segv}"],
        cwd=tmp_path, capture_output=True, timeout=60,
    )
    assert proc.returncode == 128 + signal.SIGSEGV
    assert b"uncaught target signal" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # QEMU wrote no qemu_*.core into the cwd


# -- pytest ---------------------------------------------------------------------------


def _project(folder: Path, program: Path, *, mode: str = "auto") -> Path:
    """A project with one long guest test and one quick test."""
    folder.mkdir()
    (folder / "xarch.toml").write_text(f'targets = ["aarch64"]\ncontainment = "{mode}"\n')
    (folder / "test_guest.py").write_text(textwrap.dedent(f"""
        PROGRAM = {str(program)!r}

        def test_long_guest(xarch_run):
            result = xarch_run(PROGRAM, "child", "300", timeout=600)
            assert result.returncode == 7

        def test_quick(xarch_target):
            assert xarch_target.name == "aarch64"
    """))
    return folder


def _pytest(folder: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA",
         "--xarch-report", str(folder / "report.json"), *args],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True, env=env,
    )


def _session_running_a_guest(spawner: Path, tmp_path: Path, *args: str
                             ) -> tuple[Path, subprocess.Popen[str]]:
    """A pytest session of `_project` whose long guest test is running now."""
    project = _project(tmp_path / "project", spawner)
    proc = _pytest(project, *args)
    _wait_for(lambda: _guests_running(spawner, 2))
    return project, proc


def _summary_counts(output: str) -> dict[str, int]:
    """pytest's own counts from its last line: `1 failed, 1 passed in 3.1s`."""
    line = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed)", line)][-1]
    return {word: int(count) for count, word in re.findall(r"(\d+) (\w+)", line)
            if word in {"passed", "failed", "skipped", "error", "errors", "xfailed", "xpassed"}}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_pytest_killed_takes_its_guests_down(
    spawner: Path, tmp_path: Path, signum: int
) -> None:
    _, proc = _session_running_a_guest(spawner, tmp_path, "-p", "no:xdist", "-k", "long")
    os.kill(proc.pid, signum)
    proc.communicate(timeout=60)
    assert proc.returncode == -signum
    assert wait_gone(str(spawner)) == []  # the guardian's work: nobody was left to do it
    _wait_for(lambda: _cgroups_of_dead_owners() == [], limit=10)


def test_ctrl_c_in_pytest_records_the_test_as_interrupted(spawner: Path, tmp_path: Path) -> None:
    project, proc = _session_running_a_guest(spawner, tmp_path, "-p", "no:xdist", "-k", "long")
    os.kill(proc.pid, signal.SIGINT)
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, output
    assert wait_gone(str(spawner), limit=1) == []  # killed before pytest returned
    report = json.loads((project / "report.json").read_text())
    [record] = report["tests"]
    assert record["outcome"] == "interrupted"
    assert report["interrupted"] == [record["nodeid"]]
    assert report["targets"][0]["counts"]["passed"] == 0
    assert "interrupted: started, never finished" in output


def test_sigkill_of_an_xdist_worker_takes_its_guests_down_and_is_counted(
    spawner: Path, tmp_path: Path
) -> None:
    pytest.importorskip("xdist")
    project, proc = _session_running_a_guest(spawner, tmp_path, "-n", "2")
    [qemu] = [p for p in processes_with(str(spawner)) if p.ppid() != 1
              and "qemu" in p.name() and p.parent().name().startswith("python")]
    worker = qemu.parent()
    worker.kill()
    output, _ = proc.communicate(timeout=120)
    assert wait_gone(str(spawner)) == []
    counts = _summary_counts(output)
    report = json.loads((project / "report.json").read_text())
    ours = report["targets"][0]["counts"]
    assert counts.get("failed", 0) == ours["failed"] == 1, output
    assert counts.get("passed", 0) == ours["passed"] == 1, output
    outcomes = {r["nodeid"].split("::")[-1]: r["outcome"] for r in report["tests"]}
    assert outcomes == {"test_long_guest[aarch64]": "failed", "test_quick[aarch64]": "passed"}


def test_sigterm_of_the_xdist_controller_takes_workers_and_guests_down(
    spawner: Path, tmp_path: Path
) -> None:
    pytest.importorskip("xdist")
    _, proc = _session_running_a_guest(spawner, tmp_path, "-n", "2")
    workers = psutil.Process(proc.pid).children()
    assert len(workers) >= 2
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert wait_gone(str(spawner)) == []
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert alive == []


def test_xarch_run_called_in_process_spares_the_callers_other_processes(spawner: Path) -> None:
    """In-process `main(["run", ...])` (tests, embedders): no subreaper, closes only its own."""
    from pytest_xarch.cli import main

    bystander = subprocess.Popen(["sleep", "60"])  # like an sshd a fixture started
    try:
        before = containment.current()
        assert main(["run", "--target", "aarch64", "--", str(spawner), "child", "0"]) == 7
        assert bystander.poll() is None  # not the run's, so not killed
        assert containment.current() is before and not before.closed
        assert before.mode != "subreaper"
    finally:
        bystander.kill()
        bystander.wait()
