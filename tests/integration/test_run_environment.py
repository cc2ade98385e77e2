"""The guest environment: host loader and QEMU variables stay out, XARCH_* come in."""

from __future__ import annotations

import glob
import shlex

import pytest

from pytest_xarch import run
from pytest_xarch.targets import resolve_target
from tests.integration.test_run import ATOMIC, ECHO
from tests.support.build import CrossBuilder
from tests.support.tools import missing, require_tool

SHOW_ENV = r"""
#include <stdio.h>
#include <stdlib.h>
static void show(const char *name) {
    const char *value = getenv(name);
    printf("%s=%s\n", name, value ? value : "(unset)");
}
int main(void) {
    show("XARCH_TARGET"); show("XARCH_FIDELITY"); show("XARCH_RUNNER");
    show("LD_PRELOAD"); show("LD_LIBRARY_PATH"); show("QEMU_CPU"); show("QEMU_LD_PREFIX");
    show("FROM_CALLER");
    return 0;
}
"""

# Runs another program for the same target the way a guest test would: $XARCH_RUNNER PROG.
SPAWN = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    static char words[8192];
    char *args[128];
    int n = 0;
    const char *runner = getenv("XARCH_RUNNER");
    if (argc < 2 || runner == NULL) return 98;
    strncpy(words, runner, sizeof words - 1);
    for (char *w = strtok(words, " "); w && n < 120; w = strtok(NULL, " ")) args[n++] = w;
    args[n++] = argv[1];
    args[n++] = "42";
    args[n] = NULL;
    execv(args[0], args);
    perror("execv");
    return 99;
}
"""

TARGETS = ["aarch64", "armv7", "riscv64", "x86_64"]


def _host_library() -> str:
    """A real x86-64 shared library of this host, to preload."""
    for pattern in ("/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6",
                    "/lib64/libm.so.6", "/usr/lib*/libm.so.6"):
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    missing("no host libm.so.6 to preload (apt-get install libc6)")
    raise AssertionError("unreachable")


def _env(stdout: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in stdout.splitlines())


@pytest.mark.parametrize("target", TARGETS)
def test_host_loader_and_qemu_variables_do_not_reach_the_guest(
    cross_build: CrossBuilder, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tool(resolve_target(target).qemu_binary, "qemu-user")
    program = str(cross_build.build(target, SHOW_ENV, name="showenv"))  # dynamic
    monkeypatch.setenv("LD_PRELOAD", _host_library())
    monkeypatch.setenv("LD_LIBRARY_PATH", "/nonexistent/host/lib")
    monkeypatch.setenv("QEMU_CPU", "max")
    monkeypatch.setenv("QEMU_LD_PREFIX", "/nonexistent")
    result = run(target, [program], env={"FROM_CALLER": "yes"})
    assert result.ok, result.explain()
    assert result.stderr == ""  # no "cannot be preloaded (wrong ELF class)" from ld.so
    seen = _env(result.stdout)
    for name in ("LD_PRELOAD", "LD_LIBRARY_PATH", "QEMU_CPU", "QEMU_LD_PREFIX"):
        assert seen[name] == "(unset)", name
    assert seen["FROM_CALLER"] == "yes"


@pytest.mark.parametrize("target", TARGETS)
def test_guest_sees_xarch_variables(cross_build: CrossBuilder, target: str) -> None:
    require_tool(resolve_target(target).qemu_binary, "qemu-user")
    program = str(cross_build.build(target, SHOW_ENV, "-static", name="showenv"))
    result = run(target, [program])
    seen = _env(result.stdout)
    assert seen["XARCH_TARGET"] == target
    assert seen["XARCH_FIDELITY"] == str(result.fidelity)
    runner = shlex.split(seen["XARCH_RUNNER"]) if seen["XARCH_RUNNER"] != "(unset)" else None
    if target == "x86_64":
        assert runner is None or runner == []
    else:
        assert runner is not None
        assert runner[0].endswith(resolve_target(target).qemu_binary)
        assert runner[runner.index("-cpu") + 1] == resolve_target(target).baseline_cpu


def test_guest_loader_variables_given_explicitly_do_reach_the_guest(
    cross_build: CrossBuilder,
) -> None:
    require_tool("qemu-aarch64", "qemu-user")
    program = str(cross_build.build("aarch64", SHOW_ENV, name="showenv"))
    result = run("aarch64", [program], env={"LD_LIBRARY_PATH": "/guest/lib"})
    assert result.ok, result.explain()
    assert _env(result.stdout)["LD_LIBRARY_PATH"] == "/guest/lib"


def test_host_qemu_cpu_does_not_loosen_the_pinned_model(
    cross_build: CrossBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tool("qemu-aarch64", "qemu-user")
    program = str(cross_build.build(
        "aarch64", ATOMIC, "-static", "-march=armv8.2-a", "-mno-outline-atomics", name="lse"))
    monkeypatch.setenv("QEMU_CPU", "max")
    assert run("aarch64", [program]).signal_name == "SIGILL"


@pytest.mark.parametrize("target", ["aarch64", "riscv64", "x86_64"])
def test_guest_runs_another_target_binary_through_xarch_runner(
    cross_build: CrossBuilder, target: str
) -> None:
    require_tool(resolve_target(target).qemu_binary, "qemu-user")
    spawner = str(cross_build.build(target, SPAWN, name="spawn"))
    other = str(cross_build.build(target, ECHO, name="echo"))  # dynamic: needs the runner's -L
    result = run(target, [spawner, other])
    assert result.returncode == 42, result.explain()
    assert result.stdout.startswith("argc=2 [42]\n")
