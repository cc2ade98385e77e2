"""xarch_build, xarch_check and the canary as a user meets them in pytest (real compilers, QEMU)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ..support.tools import require_tool

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

PROGRAM = r"""
#include <stdio.h>
int main(void) { printf("%d\n", (int)(sizeof(void *) * 8)); return 0; }
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A user project with one C source and a test that builds and runs it per target."""
    for tool, package in (("qemu-aarch64", "qemu-user"),
                          ("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu"),
                          ("arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf"),
                          ("riscv64-linux-gnu-gcc", "gcc-riscv64-linux-gnu")):
        require_tool(tool, package)
    pytester.makefile(".c", x=PROGRAM)
    pytester.makepyfile(test_x="""
def test_x(xarch_build, xarch_run, xarch_target):
    exe = xarch_build(["x.c"])
    result = xarch_run(exe)
    assert result.returncode == 0
    assert result.stdout.strip() == str(xarch_target.bits)
""")
    return pytester


def test_build_and_run_over_targets_and_a_cpu_profile(project: pytest.Pytester) -> None:
    result = project.runpytest("--xarch=aarch64,armv7,riscv64,rpi4", "-v")
    result.assert_outcomes(passed=4)
    for line in ("*test_x?aarch64? PASSED ?emulated?*", "*test_x?armv7? PASSED ?emulated?*",
                 "*test_x?riscv64? PASSED ?emulated?*", "*test_x?rpi4? PASSED ?emulated?*"):
        result.stdout.fnmatch_lines([line])
    result.stdout.fnmatch_lines(["rpi4 *qemu-aarch64 * -cpu cortex-a72 * 1 *"])
    # A second session reuses every artifact from the pytest cache.
    builds = (project.path / ".pytest_cache" / "d" / "xarch" / "builds.log").read_text()
    again = project.runpytest("--xarch=aarch64,armv7,riscv64,rpi4")
    again.assert_outcomes(passed=4)
    assert (project.path / ".pytest_cache" / "d" / "xarch" / "builds.log").read_text() == builds


def test_compiler_errors_fail_the_test_with_the_compilers_message(
    project: pytest.Pytester,
) -> None:
    project.makefile(".c", broken="int main(void) { return undeclared; }\n")
    project.makepyfile(test_broken="""
def test_broken(xarch_build):
    xarch_build(["broken.c"])
""")
    result = project.runpytest("test_broken.py", "--xarch=aarch64")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*broken.c:1:*error: *undeclared* undeclared*"])
    assert "Traceback" not in result.stdout.str()
    assert "During handling" not in result.stdout.str()


def test_xarch_check_reports_findings_at_static_fidelity(
    project: pytest.Pytester, tmp_path: Path
) -> None:
    host_binary = tmp_path / "host-prog"
    shutil.copy(sys_true(), host_binary)
    project.makepyfile(test_check=f"""
def test_findings(xarch_check):
    codes = [finding.code for finding in xarch_check(r"{host_binary}")]
    assert codes == ["wrong-machine"]

def test_assert_clean(xarch_check):
    xarch_check.assert_clean(r"{host_binary}")
""")
    result = project.runpytest("test_check.py", "--xarch=aarch64", "-v",
                               "--junitxml=junit.xml")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*test_findings?aarch64? PASSED ?static?*",
        f"*{host_binary} would not run on aarch64:*",
        "*wrong-machine: x86-64 code, expected AArch64*",
    ])


def sys_true() -> str:
    """A host executable to use as the wrong binary for a foreign target."""
    path = shutil.which("true")
    assert path is not None
    return path


def test_failing_canary_turns_the_targets_tests_into_errors(project: pytest.Pytester) -> None:
    project.makepyprojecttoml("""
[tool.pytest_xarch]
canary = true

[tool.pytest_xarch.target.tiny-board]
base = "aarch64"
qemu_args = ["-R", "64M"]
""")
    result = project.runpytest("--xarch=tiny-board,armv7", "-rE")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([
        "*the canary failed for target tiny-board, so its tests cannot be trusted:*",
        "*failed at probe 'malloc'*",
    ])


def test_the_demo_suite_runs_and_ends_in_the_matrix(pytester: pytest.Pytester) -> None:
    for tool, package in (("qemu-riscv64", "qemu-user"),
                          ("riscv64-linux-gnu-gcc", "gcc-riscv64-linux-gnu")):
        require_tool(tool, package)
    shutil.copytree(REPO / "examples" / "demo", pytester.path / "demo")
    result = pytester.runpytest_subprocess(
        "demo", "--xarch=aarch64,armv7,riscv64,x86_64", "--xarch-report=demo.json"
    )
    result.assert_outcomes(passed=26, skipped=3)
    result.stdout.fnmatch_lines(["*xarch fidelity matrix*", "riscv64 *qemu-riscv64*"])
    report = json.loads((pytester.path / "demo.json").read_text())
    lse = next(t for t in report["tests"] if "test_lse_atomics" in t["nodeid"])
    assert (lse["target"], lse["outcome"], lse["fidelity"]) == ("aarch64", "passed", "emulated")


def test_no_compiler_for_the_target_is_an_error_at_setup(project: pytest.Pytester) -> None:
    project.makepyprojecttoml("""
[tool.pytest_xarch.target.odd-board]
base = "aarch64"
cc = "no-such-aarch64-gcc"
cxx = "no-such-aarch64-g++"
""")
    result = project.runpytest("--xarch=odd-board")
    outcomes = result.parseoutcomes()
    assert outcomes["errors"] == 1 and "failed" not in outcomes
    result.stdout.fnmatch_lines([
        "*ERROR at setup of test_*odd-board*",
        "*sets cc = 'no-such-aarch64-gcc', but no-such-aarch64-gcc is not an executable*",
    ])


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_long_build_says_so_while_it_runs(project: pytest.Pytester, workers: list[str]) -> None:
    slow = project.path / "slowcc"
    slow.write_text('#!/bin/sh\ncase "$1" in --version) ;; *) sleep 4 ;; esac\n'
                    'exec aarch64-linux-gnu-gcc "$@"\n')
    slow.chmod(0o755)
    project.makepyprojecttoml(f"""
[tool.pytest_xarch.target.slow-board]
base = "aarch64"
cc = "{slow}"
""")
    result = project.runpytest_subprocess("--xarch=slow-board", "-p", "no:cacheprovider",
                                          *workers)
    result.assert_outcomes(passed=1)
    prefix = "[[]gw?[]] xarch: " if workers else "xarch: "
    result.stderr.fnmatch_lines([f"{prefix}building x.c for slow-board with config ...",
                                 f"{prefix}building x.c for slow-board with config: done in * s"])
