"""Timeouts: a spinning guest, and a guest whose child ignores SIGTERM, leave nothing behind."""

from __future__ import annotations

import os
import time
import uuid

import psutil
import pytest

from pytest_xarch import run
from pytest_xarch.targets import resolve_target
from tests.support.build import CrossBuilder
from tests.support.tools import require_tool

SPIN = r"""
int main(void) {
    volatile unsigned long n = 0;
    for (;;) n++;
}
"""

STUBBORN_CHILD = r"""
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
    signal(SIGTERM, SIG_IGN);
    pid_t child = fork();
    if (child == 0) {
        signal(SIGTERM, SIG_IGN);
        setsid();                      /* leave the parent's process group, too */
        for (;;) pause();
    }
    printf("child %d\n", (int)child);
    fflush(stdout);
    for (;;) pause();
}
"""


def _survivors(token: str) -> list[psutil.Process]:
    """Processes whose command line mentions `token` (QEMU keeps the guest's argv)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        if proc.pid != os.getpid() and any(token in part for part in proc.info["cmdline"] or []):
            found.append(proc)
    return found


@pytest.mark.parametrize("target", ["aarch64", "riscv64", "x86_64"])
def test_spinning_guest_is_killed_at_its_timeout(cross_build: CrossBuilder, target: str) -> None:
    require_tool(resolve_target(target).qemu_binary, "qemu-user")
    program = str(cross_build.build(target, SPIN, "-static", name="spin"))
    token = f"xarch-spin-{uuid.uuid4().hex}"
    result = run(target, [program, token], timeout=1.0)
    assert result.timed_out, result.explain()
    assert result.signal is None  # killed by us, not by a fault of its own
    assert result.timeout == 1.0
    assert result.outcome() == "timed out after 1s"
    assert not result.ok
    assert _survivors(token) == []


@pytest.mark.parametrize("target", ["aarch64", "x86_64"])
def test_child_ignoring_sigterm_does_not_survive_the_timeout(
    cross_build: CrossBuilder, target: str
) -> None:
    require_tool(resolve_target(target).qemu_binary, "qemu-user")
    program = str(cross_build.build(target, STUBBORN_CHILD, name="stubborn"))
    token = f"xarch-stubborn-{uuid.uuid4().hex}"
    result = run(target, [program, token], timeout=2.0)
    assert result.timed_out, result.explain()
    child_pid = int(result.stdout.split()[1])  # the guest's fork is a host process too
    assert not psutil.pid_exists(child_pid) or psutil.Process(child_pid).status() == "zombie"
    deadline = time.monotonic() + 5  # a reparented zombie may take a moment to be reaped
    while _survivors(token) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _survivors(token) == []


def test_emulated_default_timeout_is_scaled_by_the_emulation_factor(
    cross_build: CrossBuilder,
) -> None:
    require_tool("qemu-aarch64", "qemu-user")
    program = str(cross_build.build("aarch64", SPIN, "-static", name="spin"))
    import dataclasses

    target = dataclasses.replace(resolve_target("aarch64"), timeout=0.2)
    result = run(target, [program], emulation_factor=4)
    assert result.timed_out
    assert result.timeout == pytest.approx(0.8)
