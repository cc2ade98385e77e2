"""Collectors end to end: real cross-built GoogleTest, Catch2, doctest, Go, Rust and CTest suites
run under real QEMU through pytest, with emulator launches counted by a logging qemu wrapper."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_xarch.process import run_tool

from ..support.launches import Launches
from .suites import builders

pytestmark = pytest.mark.integration


def place(pytester: pytest.Pytester, binary: Path, relative: str) -> Path:
    """Copy a built binary into the pytester project."""
    destination = pytester.path / relative
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, destination)
    return destination


def records(pytester: pytest.Pytester, report: str = "report.json") -> dict[str, Any]:
    """nodeid -> record of the --xarch-report JSON."""
    data = json.loads((pytester.path / report).read_text())
    return {record["nodeid"]: record for record in data["tests"]}


@pytest.fixture(scope="module")
def gtest_binaries(suites_root: Path) -> dict[str, Path]:
    return {name: builders.gtest_binary(suites_root, name) for name in ("aarch64", "armv7")}


def test_gtest_cases_per_target_with_crash_recovery(
    pytester: pytest.Pytester, gtest_binaries: dict[str, Path], launches: Launches
) -> None:
    place(pytester, gtest_binaries["aarch64"], "build64/sample_test")
    place(pytester, gtest_binaries["armv7"], "build32/sample_test")
    result = pytester.runpytest_subprocess(
        "--xarch=aarch64,armv7", "-k", "not Forever", "--xarch-report=report.json", "-v"
    )
    result.assert_outcomes(passed=8, failed=4, skipped=2, deselected=2)
    found = records(pytester)
    for build, target in (("build64", "aarch64"), ("build32", "armv7")):
        prefix = f"{build}/sample_test::"
        expected = {
            "Math.Adds": "passed", "Math.Fails": "failed", "Math.Skipped": "skipped",
            "Crash.Segfault": "failed", "Env.SeesTarget": "passed",
            "Small/Square.NonNegative/0": "passed", "Small/Square.NonNegative/1": "passed",
        }
        for case, outcome in expected.items():
            record = found[f"{prefix}{case}[{target}]"]
            assert (record["outcome"], record["target"]) == (outcome, target)
            if outcome != "skipped":
                assert record["fidelity"] == "emulated"
        # Never collected for the other target's architecture.
        other = "armv7" if target == "aarch64" else "aarch64"
        assert f"{prefix}Math.Adds[{other}]" not in found
    result.stdout.fnmatch_lines([
        "build64/sample_test::Math.Adds?aarch64? PASSED ?emulated?*",
        "*sample_test.cc:25*", "*the answer is off by one*",
        "*Crash.Segfault crashed: the binary was killed by SIGSEGV*",
    ])
    # The crash cost one case: listing + a batch that crashed + a fresh launch for the rest.
    assert launches.of("build64/sample_test") == 3
    assert launches.of("build32/sample_test") == 3
    # Each failed case shows its own stderr, though the batch's cases shared one launch;
    # where one read took in two cases' output (a loaded machine), it says it could not
    # tell them apart, and shows the launch's.
    told_apart = 0
    for target in ("aarch64", "armv7"):
        for case in ("Math.Fails", "Crash.Segfault"):
            text = failure_block(result.stdout.str(), f"sample_test::{case} [{target}]")
            assert "uncaught target signal" not in text  # QEMU's banner: the signal says it
            if "stderr of the whole launch" in text:
                continue
            told_apart += 1
            assert f"stderr of {case}" in text
            others = {"Math.Adds", "Math.Fails", "Crash.Segfault"} - {case}
            assert not [other for other in others if f"stderr of {other}" in text], text
    assert told_apart >= 2, "no launch told its cases' stderr apart"


def failure_block(output: str, title: str) -> str:
    """The text pytest prints under one failure's `____ title ____` header."""
    blocks = re.split(r"^_{3,} (.+?) _{3,}$", output, flags=re.MULTILINE)
    found = dict(zip(blocks[1::2], blocks[2::2]))
    assert title in found, f"no failure block {title!r}; there are {list(found)}"
    return found[title].split("= short test summary info =")[0]


def test_one_launch_per_binary_and_listing_cached(
    pytester: pytest.Pytester, gtest_binaries: dict[str, Path], launches: Launches
) -> None:
    place(pytester, gtest_binaries["aarch64"], "sample_test")
    first = pytester.runpytest_subprocess("--xarch=aarch64", "-k", "Math or Env or Square")
    first.assert_outcomes(passed=4, failed=1, skipped=1, deselected=2)
    assert launches.of("sample_test") == 2  # the listing, then one batch of six cases
    second = pytester.runpytest_subprocess("--xarch=aarch64", "-k", "Math or Env or Square")
    second.assert_outcomes(passed=4, failed=1, skipped=1, deselected=2)
    assert launches.of("sample_test") == 3  # listing cached: just the batch


def test_isolate_runs_one_launch_per_case(
    pytester: pytest.Pytester, gtest_binaries: dict[str, Path], launches: Launches
) -> None:
    place(pytester, gtest_binaries["aarch64"], "sample_test")
    result = pytester.runpytest_subprocess("--xarch=aarch64", "-k", "Math", "--xarch-isolate")
    result.assert_outcomes(passed=1, failed=1, skipped=1, deselected=5)
    assert launches.of("sample_test") == 1 + 3


def test_single_case_selection_and_hang_timeout(
    pytester: pytest.Pytester, gtest_binaries: dict[str, Path]
) -> None:
    place(pytester, gtest_binaries["aarch64"], "sample_test")
    result = pytester.runpytest_subprocess(
        "--xarch=aarch64", "-o", "xarch_case_timeout=1", "-o", "xarch_emulation_factor=1",
        "sample_test::Hang.Forever[aarch64]", "sample_test::Math.Adds[aarch64]", "-v",
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Hang.Forever timed out after 1s*"])  # its own, not 2 x 1s


@pytest.mark.parametrize("kind", ["gtest", "catch2", "go"])
def test_a_hanging_case_costs_its_own_timeout_not_the_batchs(
    pytester: pytest.Pytester, suites_root: Path, kind: str
) -> None:
    """The batch limit (binary_timeout) is a backstop: the running case is watched in the
    output and stopped at its own deadline, and the cases after it run in a new launch."""
    if kind == "go":
        built = builders.go_binary(suites_root, "arm64")
        shutil.copytree(built.parent, pytester.path / "pkg")
        hang = "TestHang"
    else:
        build = builders.gtest_binary if kind == "gtest" else builders.catch2_binary
        place(pytester, build(suites_root, "aarch64"), "sample_test")
        hang = "Hang.Forever" if kind == "gtest" else "hangs forever"
    result = pytester.runpytest_subprocess(
        "--xarch=aarch64", "-o", "xarch_case_timeout=3", "-o", "xarch_emulation_factor=1",
        "-o", "xarch_binary_timeout=900", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([f"*{hang} timed out after 3s*"])
    assert "after 900s" not in result.stdout.str()
    assert result.parseoutcomes()["passed"] >= 2


def test_binary_for_no_selected_target_is_not_collected(
    pytester: pytest.Pytester, gtest_binaries: dict[str, Path]
) -> None:
    place(pytester, gtest_binaries["aarch64"], "sample_test")
    result = pytester.runpytest_subprocess("--xarch=armv7,riscv64")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_failing_static_check_is_one_collection_error(
    pytester: pytest.Pytester, gtest_binaries: dict[str, Path]
) -> None:
    place(pytester, gtest_binaries["aarch64"], "sample_test")
    pytester.makefile(".toml", xarch='[target.aarch64]\nglibc = "2.17"\n')
    result = pytester.runpytest_subprocess("--xarch=aarch64")
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*ERROR collecting sample_test*", "*fails static checks*",
                                 "*glibc-too-new*"])
    assert "Traceback" not in result.stdout.str()


def test_xdist_workers_run_their_own_batches(
    pytester: pytest.Pytester, gtest_binaries: dict[str, Path]
) -> None:
    place(pytester, gtest_binaries["aarch64"], "sample_test")
    result = pytester.runpytest_subprocess(
        "--xarch=aarch64", "-n", "2", "-k", "not Forever", "--xarch-report=report.json"
    )
    result.assert_outcomes(passed=4, failed=2, skipped=1)
    found = records(pytester)
    assert found["sample_test::Crash.Segfault[aarch64]"]["outcome"] == "failed"
    assert found["sample_test::Env.SeesTarget[aarch64]"]["fidelity"] == "emulated"


def test_catch2_outcomes_and_crash_recovery(
    pytester: pytest.Pytester, suites_root: Path, launches: Launches
) -> None:
    place(pytester, builders.catch2_binary(suites_root, "aarch64"), "c2/sample_test")
    place(pytester, builders.catch2_binary(suites_root, "armv7"), "c32/sample_test")
    result = pytester.runpytest_subprocess(
        "--xarch=aarch64,armv7", "-k", "not hangs", "--xarch-report=report.json"
    )
    result.assert_outcomes(passed=4, failed=4, deselected=2)
    found = records(pytester)
    for build, target in (("c2", "aarch64"), ("c32", "armv7")):
        outcomes = {case: found[f"{build}/sample_test::{case}[{target}]"]["outcome"]
                    for case in ("adds", "fails", "crashes", "sections pass")}
        assert outcomes == {"adds": "passed", "fails": "failed", "crashes": "failed",
                            "sections pass": "passed"}
    result.stdout.fnmatch_lines(["*sample_test.cpp:12: CHECK( answer == 42 )*",
                                 "*SIGSEGV*"])
    assert launches.of("c2/sample_test") == 3  # listing, batch stopped by the crash, the rest


def test_doctest_outcomes(pytester: pytest.Pytester, suites_root: Path) -> None:
    place(pytester, builders.doctest_binary(suites_root, "armv7"), "sample_test")
    result = pytester.runpytest_subprocess("--xarch=armv7", "-v")
    result.assert_outcomes(passed=1, failed=2, skipped=1)  # doctest counts its skip() cases
    result.stdout.fnmatch_lines(["sample_test::adds?armv7? PASSED ?emulated?*",
                                 "*sample_test.cpp:9: CHECK( answer == 42 )*"])


@pytest.mark.parametrize(("goarch", "target"), [("arm64", "aarch64"), ("arm", "armv7")])
def test_go_outcomes_testdata_and_panic(
    pytester: pytest.Pytester, suites_root: Path, goarch: str, target: str
) -> None:
    built = builders.go_binary(suites_root, goarch)
    shutil.copytree(built.parent, pytester.path / "pkg")
    # Finding subtests runs the tests at collection, TestHang too: a short case timeout.
    result = pytester.runpytest_subprocess(
        f"--xarch={target}", "-k", "not Hang", "--xarch-report=report.json", "-v",
        "-o", "xarch_case_timeout=4", "-o", "xarch_emulation_factor=1",
    )
    result.assert_outcomes(passed=4, failed=2, skipped=1, deselected=1)
    found = records(pytester)
    outcome = {nodeid.split("::")[1]: record["outcome"] for nodeid, record in found.items()}
    assert outcome == {
        f"TestPass[{target}]": "passed", f"TestFail[{target}]": "failed",
        f"TestSkip[{target}]": "skipped", f"TestTestdata[{target}]": "passed",
        f"TestSub[{target}]": "passed", f"TestSub/inner[{target}]": "passed",
        f"TestCrash[{target}]": "failed",
    }
    result.stdout.fnmatch_lines(["*sample_test.go:16: got 41, want 42*",
                                 "*nil pointer dereference*"])


def test_rust_libtest_native(pytester: pytest.Pytester, suites_root: Path) -> None:
    place(pytester, builders.rust_binary(suites_root), "sample_test")
    result = pytester.runpytest_subprocess("--xarch=x86_64", "-v")
    result.assert_outcomes(passed=1, failed=2, skipped=1)
    result.stdout.fnmatch_lines([
        "sample_test::tests::passes?x86_64? PASSED ?native?*",
        "*tests::aborts crashed: the binary was killed by SIGABRT*",
        "*the answer is off by one*",
    ])


@pytest.mark.parametrize("emulator", [(), ("qemu-aarch64", "-L", "/usr/aarch64-linux-gnu")],
                         ids=["plain-add_test", "with-emulator"])
def test_ctest_tree(pytester: pytest.Pytester, suites_root: Path,
                    emulator: tuple[str, ...]) -> None:
    build = builders.ctest_tree(suites_root, "aarch64", emulator=emulator)
    result = pytester.runpytest_subprocess(
        "--xarch=aarch64,armv7", "-o", "xarch_emulation_factor=1", f"--rootdir={build}",
        str(build), "--xarch-report=report.json", "-p", "no:cacheprovider",
    )
    found = records(pytester)
    outcome = {nodeid.split("::")[1]: record["outcome"] for nodeid, record in found.items()}
    assert outcome == {
        "passes[aarch64]": "passed", "fails[aarch64]": "failed",
        "expected_failure[aarch64]": "passed", "skipped[aarch64]": "skipped",
        "crashes[aarch64]": "failed", "hangs[aarch64]": "failed",
        "environment[aarch64]": "passed", "host_script[aarch64]": "passed",
        "shared_library[aarch64]": "passed",  # its RUNPATH points into the build tree
        "host_only[host]": "passed",  # cmake -P: once, not once per target
        "looks_only[aarch64]": "passed", "sub_passes[aarch64]": "passed",
    }
    fidelity = {nodeid.split("::")[1]: record["fidelity"] for nodeid, record in found.items()}
    assert fidelity["host_script[aarch64]"] == "emulated"  # it ran `$XARCH_RUNNER prog`
    assert fidelity["looks_only[aarch64]"] == "static"  # it never ran the target program
    assert fidelity["host_only[host]"] == "native"
    target_runs = {name: level for name, level in fidelity.items()
                   if outcome[name] == "passed" and name not in ("host_only[host]",
                                                                 "looks_only[aarch64]")}
    assert set(target_runs.values()) == {"emulated"}
    result.stdout.fnmatch_lines(["x86_64 (host) *host commands*1*"])
    result.stdout.fnmatch_lines(["*crashes: killed by SIGSEGV*", "*hangs: timed out after 2s*"])
    if emulator:  # ctest itself can run this tree: its counts are pytest's
        raw = run_tool(["ctest"], cwd=str(build), timeout=300,
                       env={**os.environ, "XARCH_RUNNER": " ".join(emulator)}).stdout
        assert result.parseoutcomes() == ctest_counts(raw) == {
            "passed": 8, "failed": 3, "skipped": 1}


def ctest_counts(output: str) -> dict[str, int]:
    """ctest's own summary as pytest counts: its "did not run" tests are the skipped ones
    (ctest counts them in "tests passed")."""
    total = re.search(r"tests failed out of (\d+)", output)
    assert total, output
    sections = dict.fromkeys(("did not run", "FAILED"), 0)
    section = None
    for line in output.splitlines():
        heading = re.match(r"The following tests (did not run|FAILED):", line)
        if heading:
            section = heading.group(1)
        elif section and re.match(r"^\s+\d+ - ", line):
            sections[section] += 1
        else:
            section = None
    failed, not_run = sections["FAILED"], sections["did not run"]
    return {"passed": int(total.group(1)) - failed - not_run, "failed": failed,
            "skipped": not_run}


def test_a_subdirectory_of_a_ctest_tree_collects_its_own_tests(
    pytester: pytest.Pytester, suites_root: Path
) -> None:
    build = builders.ctest_tree(suites_root, "aarch64")
    result = pytester.runpytest_subprocess(
        "--xarch=aarch64", f"--rootdir={build}", str(build / "sub"), "-p", "no:cacheprovider",
        "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*sub_passes?aarch64? PASSED ?emulated?*"])


def test_a_binary_named_on_the_command_line_is_collected_whatever_its_name(
    pytester: pytest.Pytester, gtest_binaries: dict[str, Path]
) -> None:
    binary = place(pytester, gtest_binaries["aarch64"], "suite")  # no pattern matches "suite"
    result = pytester.runpytest_subprocess("--xarch=aarch64", "-k", "Math", "-p",
                                           "no:cacheprovider")
    result.stdout.fnmatch_lines(["*no tests ran*"])
    result.stdout.fnmatch_lines([
        "xarch: 1 executable(s) or build tree(s) passed over:",
        f"  {binary}: its name matches none of the patterns (test_*, *_test, *"])
    result = pytester.runpytest_subprocess("--xarch=aarch64", str(binary), "-k", "Math",
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1, skipped=1, deselected=5)  # the Math cases


def test_a_directory_of_binaries_for_other_targets_says_so(
    pytester: pytest.Pytester, gtest_binaries: dict[str, Path]
) -> None:
    binary = place(pytester, gtest_binaries["aarch64"], "sample_test")
    result = pytester.runpytest_subprocess("--xarch=riscv64", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([
        f"  {binary}: built for AArch64 64-bit, none of the selected targets (riscv64)"])


def test_last_failed_reruns_exactly_the_failed_cases(
    pytester: pytest.Pytester, gtest_binaries: dict[str, Path]
) -> None:
    """`--lf` finds the cases pytest stored (pytest 9.2 reads a stored id's [target] as its
    params: the items' ids must be built the same way)."""
    place(pytester, gtest_binaries["aarch64"], "sample_test")
    first = pytester.runpytest_subprocess("--xarch=aarch64", "-k", "Math")
    assert first.parseoutcomes()["failed"] == 1
    # The short summary's word is text under every pytest (7.x printed a (word, markup) pair).
    first.stdout.fnmatch_lines(["FAILED [[]emulated[]] sample_test::Math.Fails[[]aarch64[]]*"])
    again = pytester.runpytest_subprocess("--xarch=aarch64", "--lf", "-k", "Math", "-v")
    again.stdout.fnmatch_lines(["run-last-failure: rerun previous 1 failure*"])
    outcomes = again.parseoutcomes()
    outcomes.pop("deselected", None)  # pytest 7.0 deselects the others, later ones skip them
    assert outcomes == {"failed": 1}
    again.stdout.fnmatch_lines(["*sample_test::Math.Fails?aarch64? FAILED*"])
