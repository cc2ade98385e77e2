"""binfmt_misc handlers for real: register, run foreign binaries directly, remove.

These tests change kernel state for the whole machine, so each holds a
machine-wide file lock (against other xdist workers and other pytest sessions)
for its whole duration. Every handler a test registers is removed afterwards,
even on failure, an `xarch-` handler that existed before is put back, and
binfmt_misc is unmounted again when the test had to mount it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock

from pytest_xarch import binfmt_misc, run
from pytest_xarch.errors import SetupError
from pytest_xarch.fidelity import Fidelity
from pytest_xarch.process import execute
from pytest_xarch.runners.binfmt import BinfmtRunner
from pytest_xarch.targets import Target, binfmt_magic, binfmt_mask, resolve_target

from ..support.build import CrossBuilder
from ..support.tools import missing, require_tool

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("binfmt")]

LOCK = "/tmp/xarch-binfmt-tests.lock"
FOREIGN = "qemu-aarch64-not-xarch"  # stands for Debian's or tonistiigi's entry

ECHO = r"""
#include <stdio.h>
int main(int argc, char **argv) {
    printf("argv0=%s\n", argv[0]);
    for (int i = 1; i < argc; i++) printf("arg=%s\n", argv[i]);
    return 5;
}
"""
# Runs argv[1] (another target program) with execv: needs binfmt for a foreign one.
EXECS = r"""
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    fflush(stdout);
    execv(argv[1], &argv[1]);
    printf("execv failed: %s\n", strerror(errno));
    return 3;
}
"""
SEGV = r"""
#include <signal.h>
int main(void) { raise(SIGSEGV); return 0; }
"""


def xarch(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the xarch command (as `user` when given)."""
    argv = [sys.executable, "-m", "pytest_xarch.cli", *args]
    if user:
        argv = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups", *argv]
    outcome = execute(argv, timeout=60)
    return subprocess.CompletedProcess(
        argv, outcome.returncode, outcome.stdout.decode(), outcome.stderr.decode()
    )


@pytest.fixture
def clean() -> Iterator[None]:
    """The kernel's binfmt state to ourselves, with no aarch64 handler of ours in it.

    Holds a machine-wide lock for the test (xdist groups are not relied on: they
    are a scheduling hint, and pytest-xdist 3.8 ignores them under pytest 9.2),
    mounts binfmt_misc when it is not, and afterwards puts back what it found:
    the handlers, and binfmt_misc unmounted again if it was.
    """
    if os.geteuid() != 0:
        missing("registering binfmt_misc handlers needs root")
    require_tool("qemu-aarch64-static", "qemu-user-static")
    with FileLock(LOCK):
        try:
            mounted_here = binfmt_misc.mount()
        except SetupError as problem:
            missing(f"binfmt_misc cannot be mounted here: {problem}")
        try:
            with _handlers_restored():
                yield
        finally:
            if mounted_here:
                binfmt_misc.unmount()


@contextlib.contextmanager
def _handlers_restored() -> Iterator[None]:
    aarch64 = resolve_target("aarch64")
    before = {h.name: h for h in binfmt_misc.handlers()}
    for handler in before.values():
        if handler.ours and handler.serves(aarch64):
            binfmt_misc.unregister(handler.name)
    try:
        yield
    finally:
        for handler in binfmt_misc.handlers():
            if handler.name not in before and (handler.ours or handler.name == FOREIGN):
                binfmt_misc.unregister(handler.name)
        for name, handler in before.items():
            if not (binfmt_misc.BINFMT_DIR / name).exists():
                assert handler.magic is not None and handler.mask is not None
                binfmt_misc.register(name, handler.magic, handler.mask, handler.interpreter,
                                     handler.flags)


@pytest.fixture(scope="module")
def programs(cross_build: CrossBuilder) -> dict[str, Path]:
    """aarch64 test programs, static and dynamic."""
    return {
        "echo": cross_build.build("aarch64", ECHO, "-static", name="echo"),
        "echo-dynamic": cross_build.build("aarch64", ECHO, name="echo"),
        "execs": cross_build.build("aarch64", EXECS, "-static", name="execs"),
        "segv": cross_build.build("aarch64", SEGV, "-static", name="segv"),
    }


def binfmt_target() -> Target:
    return dataclasses.replace(resolve_target("aarch64"), runner="binfmt")


def ours() -> list[binfmt_misc.Handler]:
    aarch64 = resolve_target("aarch64")
    return [h for h in binfmt_misc.handlers() if h.ours and h.serves(aarch64)]


def test_without_a_handler_foreign_binaries_do_not_run(
    clean: None, programs: dict[str, Path]
) -> None:
    if binfmt_misc.active_handler(resolve_target("aarch64")):
        pytest.skip("another (foreign) aarch64 handler is registered on this machine")
    status = xarch("binfmt", "status", "--target", "aarch64")
    assert status.returncode == 1
    assert "no handler (sudo xarch binfmt install --target aarch64)" in status.stdout
    with pytest.raises(OSError):  # Exec format error
        execute([str(programs["echo"])], timeout=30)
    with pytest.raises(SetupError, match="xarch binfmt install --target aarch64"):
        run(binfmt_target(), [str(programs["echo"])])


def test_install_registers_a_handler_that_runs_foreign_binaries_directly(
    clean: None, programs: dict[str, Path]
) -> None:
    installed = xarch("binfmt", "install", "--target", "aarch64")
    assert installed.returncode == 0, installed.stderr
    assert "registered xarch-aarch64" in installed.stdout
    [handler] = ours()
    assert handler.name == "xarch-aarch64" and handler.enabled
    assert "F" in handler.flags and "P" in handler.flags
    assert binfmt_misc.is_static(handler.interpreter)
    status = xarch("binfmt", "status", "--target", "aarch64", "--json")
    assert status.returncode == 0
    [row] = json.loads(status.stdout)["targets"]
    assert [h["name"] for h in row["handlers"] if h["ours"]] == ["xarch-aarch64"]
    # Executed directly by the kernel; P keeps argv[0] as given.
    outcome = execute([str(programs["echo"]), "one", "two words"], timeout=30)
    assert outcome.returncode == 5
    assert outcome.stdout.decode() == f"argv0={programs['echo']}\narg=one\narg=two words\n"
    # A dynamic one finds its loader through QEMU_LD_PREFIX.
    env = {**os.environ, "QEMU_LD_PREFIX": "/usr/aarch64-linux-gnu"}
    outcome = execute([str(programs["echo-dynamic"]), "dyn"], timeout=30, env=env)
    assert (outcome.returncode, outcome.stdout.decode().splitlines()[-1]) == (5, "arg=dyn")


def test_install_is_idempotent_and_force_replaces(clean: None) -> None:
    assert xarch("binfmt", "install", "--target", "aarch64").returncode == 0
    again = xarch("binfmt", "install", "--target", "arm64")  # another spelling, same magic
    assert again.returncode == 0
    assert "present xarch-aarch64" in again.stdout
    assert len(ours()) == 1
    forced = xarch("binfmt", "install", "--target", "aarch64", "--force")
    assert forced.returncode == 0
    assert "replaced xarch-aarch64" in forced.stdout
    assert len(ours()) == 1


def test_binfmt_runner_lets_a_target_program_exec_another(
    clean: None, programs: dict[str, Path]
) -> None:
    argv = [str(programs["execs"]), str(programs["echo"]), "child"]
    explicit = run("aarch64", argv)  # the qemu runner: the kernel cannot exec the child
    assert explicit.returncode == 3, explicit.explain()
    assert "execv failed: Exec format error" in explicit.stdout
    assert xarch("binfmt", "install", "--target", "aarch64").returncode == 0
    result = run(binfmt_target(), argv)
    assert result.returncode == 5, result.explain()
    assert "arg=child" in result.stdout
    assert result.fidelity == Fidelity.EMULATED
    assert result.runner == "binfmt"
    assert "xarch-aarch64" in result.runner_description
    assert result.qemu_version  # the QEMU behind the handler
    listing = xarch("targets", "--json")
    [row] = [row for row in json.loads(listing.stdout) if row["name"] == "aarch64"]
    assert row["binfmt"] == "xarch-aarch64"


def test_binfmt_runner_passes_cpu_sysroot_and_reports_signals(
    clean: None, programs: dict[str, Path]
) -> None:
    assert xarch("binfmt", "install", "--target", "aarch64").returncode == 0
    runner = BinfmtRunner(resolve_target("aarch64"), cpu="cortex-a72")
    assert "QEMU_CPU=cortex-a72" in runner.prefix()
    dynamic = run(binfmt_target(), [str(programs["echo-dynamic"]), "x"], runner=runner)
    assert dynamic.returncode == 5, dynamic.explain()
    assert dynamic.cpu == "cortex-a72"
    crashed = run(binfmt_target(), [str(programs["segv"])])
    assert crashed.signal == 11, crashed.explain()
    assert "uncaught target signal" not in crashed.stderr


def test_remove_removes_only_ours_and_coexists_with_a_foreign_handler(
    clean: None, programs: dict[str, Path]
) -> None:
    aarch64 = resolve_target("aarch64")
    interpreter = binfmt_misc.choose_interpreter(aarch64)
    binfmt_misc.register(FOREIGN, binfmt_magic(aarch64), binfmt_mask(aarch64),
                         interpreter.path, interpreter.flags)
    present = xarch("binfmt", "install", "--target", "aarch64")
    assert f"present {FOREIGN}" in present.stdout  # reported, not duplicated
    assert ours() == []
    status = xarch("binfmt", "status", "--target", "aarch64")
    assert f"{FOREIGN}" in status.stdout and "(foreign)" in status.stdout
    assert xarch("binfmt", "install", "--target", "aarch64", "--force").returncode == 0
    names = {h.name for h in binfmt_misc.handlers_for(aarch64)}
    assert names == {FOREIGN, "xarch-aarch64"}
    removed = xarch("binfmt", "remove")
    assert removed.stdout.strip() == "removed xarch-aarch64"
    assert {h.name for h in binfmt_misc.handlers_for(aarch64)} == {FOREIGN}
    # Still runs, through the foreign handler.
    assert execute([str(programs["echo"])], timeout=30).returncode == 5
    assert "no xarch handlers to remove" in xarch("binfmt", "remove").stdout


def test_install_without_permission_is_refused_clearly(clean: None) -> None:
    require_tool("setpriv", "util-linux")
    refused = xarch("binfmt", "install", "--target", "aarch64", user="nobody")
    assert refused.returncode == 2
    assert "needs root" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert ours() == []


def test_install_refuses_the_hosts_own_architecture(clean: None) -> None:
    host = xarch("binfmt", "install", "--target", "x86_64")
    assert host.returncode == 0
    assert "skipped" in host.stdout and "natively" in host.stdout
    with pytest.raises(SetupError, match="would also catch this host's own"):
        x86 = resolve_target("x86_64")
        binfmt_misc.register("xarch-test-never", binfmt_magic(x86), binfmt_mask(x86),
                             "/usr/bin/qemu-x86_64", "")
