"""Running real cross-built binaries through `run()`: statuses, output, signals, CPU models."""

from __future__ import annotations

import pytest

from pytest_xarch import Fidelity, run
from pytest_xarch.targets import resolve_target
from tests.support.build import CrossBuilder
from tests.support.tools import require_tool

ECHO = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    char line[256];
    printf("argc=%d", argc);
    for (int i = 1; i < argc; i++) printf(" [%s]", argv[i]);
    printf("\n");
    while (fgets(line, sizeof line, stdin)) printf("in:%s", line);
    fprintf(stderr, "to stderr\n");
    return argc > 1 ? atoi(argv[1]) : 0;
}
"""

SEGV = r"""
#include <stdio.h>
int main(void) {
    volatile int *nowhere = (int *)16;
    fprintf(stderr, "about to crash\n");
    return *nowhere;
}
"""

ATOMIC = r"""
#include <stdatomic.h>
#include <stdio.h>
atomic_int counter;
int main(void) {
    int old = atomic_fetch_add(&counter, 5);
    printf("%d %d\n", old, atomic_load(&counter));
    return 0;
}
"""

UNIMPLEMENTED = r"""
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(void) {
    long answer = syscall(999);
    printf("syscall(999) = %ld\n", answer);
    return answer == -1 ? 3 : 0;
}
"""

RUN_TARGETS = ["aarch64", "armv7", "riscv64", "x86_64"]
LINKAGES = ["static", "dynamic"]


def _build(cross_build: CrossBuilder, target: str, source: str, linkage: str, name: str) -> str:
    flags = ["-static"] if linkage == "static" else []
    return str(cross_build.build(target, source, *flags, name=name))


def _require_qemu(target: str) -> None:
    binary = resolve_target(target).qemu_binary
    require_tool(binary, "qemu-user")


@pytest.mark.parametrize("linkage", LINKAGES)
@pytest.mark.parametrize("target", RUN_TARGETS)
def test_status_arguments_stdout_stderr_stdin(
    cross_build: CrossBuilder, target: str, linkage: str
) -> None:
    _require_qemu(target)
    program = _build(cross_build, target, ECHO, linkage, "echo")
    result = run(target, [program, "7", "two words"], stdin="first\nsecond\n", timeout=60)
    assert result.returncode == 7, result.explain()
    assert result.stdout == "argc=3 [7] [two words]\nin:first\nin:second\n"
    assert result.stderr == "to stderr\n"
    assert not result.timed_out and result.signal is None
    expected = Fidelity.NATIVE if target == "x86_64" else Fidelity.EMULATED
    assert result.fidelity == expected
    assert result.runner == ("native" if target == "x86_64" else "qemu")
    assert result.duration > 0
    assert result.max_rss_kb and result.max_rss_kb > 0
    if expected == Fidelity.EMULATED:
        assert result.cpu == resolve_target(target).baseline_cpu
        assert result.qemu_version and result.qemu_version[0].isdigit()
        assert result.cpu in result.runner_description


@pytest.mark.parametrize("target", RUN_TARGETS)
def test_success_without_arguments(cross_build: CrossBuilder, target: str) -> None:
    _require_qemu(target)
    program = _build(cross_build, target, ECHO, "dynamic", "echo")
    result = run(target, [program])
    assert result.ok, result.explain()
    assert result.outcome() == "exit 0"


@pytest.mark.parametrize("target", ["aarch64", "armv7", "riscv64", "x86_64"])
def test_guest_sigsegv_is_reported_as_the_signal_without_the_qemu_banner(
    cross_build: CrossBuilder, target: str
) -> None:
    _require_qemu(target)
    program = _build(cross_build, target, SEGV, "static", "segv")
    result = run(target, [program])
    assert result.signal == 11, result.explain()
    assert result.signal_name == "SIGSEGV"
    assert result.exit_status == 139
    assert result.outcome() == "killed by SIGSEGV"
    assert "qemu:" not in result.stderr
    assert "uncaught target signal" not in result.stderr
    assert result.stderr == "about to crash\n"


@pytest.fixture(scope="module")
def lse_program(cross_build: CrossBuilder) -> str:
    """An aarch64 binary whose atomics are ARMv8.1 LSE instructions (ldadd), inlined."""
    _require_qemu("aarch64")
    return str(cross_build.build(
        "aarch64", ATOMIC, "-static", "-march=armv8.2-a", "-mno-outline-atomics", name="lse"))


def test_lse_atomics_pass_under_cpu_max(lse_program: str) -> None:
    result = run("aarch64", [lse_program], cpu="max")
    assert result.ok, result.explain()
    assert result.stdout == "0 5\n"
    assert result.cpu == "max"


def test_lse_atomics_die_with_sigill_under_the_default_baseline(lse_program: str) -> None:
    result = run("aarch64", [lse_program])
    assert result.cpu == "cortex-a53"
    assert result.signal_name == "SIGILL", result.explain()
    assert result.exit_status == 128 + 4
    assert "uncaught target signal" not in result.stderr


def test_unimplemented_syscall_log_is_attached_to_a_failing_run(cross_build: CrossBuilder) -> None:
    _require_qemu("aarch64")
    program = _build(cross_build, "aarch64", UNIMPLEMENTED, "static", "unimp")
    result = run("aarch64", [program])
    assert result.returncode == 3, result.explain()
    assert "Unsupported syscall: 999" in result.unimplemented
    assert "Unsupported syscall: 999" in result.explain()
    # rseq (probed by every glibc >= 2.35 at start-up) is not reported as a problem
    assert "Unsupported syscall: 293" not in result.unimplemented
