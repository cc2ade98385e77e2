"""The collectors count as the frameworks count: each suite is run raw under QEMU (its own
main and summary) and through pytest, and the numbers must match.

GoogleTest: disabled tests are skipped ("disabled"), the cases of a suite whose
SetUpTestSuite failed are errors carrying that failure. Catch2 and doctest:
expected failures are xfailed, a decorated case that passes when it should fail
is failed, warnings never fail, two doctest cases of one name are two items.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from pytest_xarch import run

from ..support.launches import Launches
from ..support.tools import require_tool
from .suites import builders

VERDICTS = builders.SUITES / "verdicts"


def raw_summary(binary: Path, *args: str) -> str:
    """The binary's own output when it runs all its cases under the aarch64 runner."""
    return run("aarch64", [str(binary), *args], check=False, timeout=120).stdout


def summary_count(text: str, pattern: str) -> int:
    found = re.search(pattern, text, re.MULTILINE)
    return int(found.group(1)) if found else 0


def pytest_counts(pytester: pytest.Pytester, binary: Path, *args: str
                  ) -> tuple[pytest.RunResult, dict[str, int], dict[str, Any]]:
    """pytest's outcome counts for `binary`, and its JSON report."""
    copy = pytester.path / binary.name
    copy.write_bytes(binary.read_bytes())
    copy.chmod(0o755)
    result = pytester.runpytest_subprocess("--xarch=aarch64", "--xarch-report=report.json",
                                           "-p", "no:cacheprovider", "-rA", *args)
    report = json.loads((pytester.path / "report.json").read_text())
    return result, result.parseoutcomes(), report


def test_gtest_disabled_and_failed_suite_setup(pytester: pytest.Pytester,
                                               suites_root: Path) -> None:
    binary = builders.gtest_binary(suites_root, "aarch64", VERDICTS / "gtest_verdicts.cc",
                                   name="verdicts_test")
    raw = raw_summary(binary)
    raw_passed = summary_count(raw, r"^\[  PASSED  \] (\d+) tests?\.")
    raw_failed = summary_count(raw, r"^\[  FAILED  \] (\d+) tests?, listed below")
    raw_skipped = summary_count(raw, r"^\[  SKIPPED \] (\d+) tests?, listed below")
    raw_disabled = summary_count(raw, r"YOU HAVE (\d+) DISABLED TESTS?")
    failed_suites = summary_count(raw, r"^ *(\d+) FAILED TEST SUITES?")
    assert (raw_passed, raw_failed, raw_skipped, raw_disabled, failed_suites) == (1, 1, 3, 2, 1)
    result, counts, report = pytest_counts(pytester, binary)
    assert counts == {"passed": 1, "failed": 1, "skipped": 3, "errors": 2}
    # GoogleTest's skips are pytest's skips plus the cases of the failed suite; its disabled
    # tests are pytest's "disabled" skips.
    assert counts["skipped"] + counts["errors"] == raw_skipped + raw_disabled
    result.stdout.fnmatch_lines(["*ERROR at setup of verdicts_test::Fixture.First*",
                                 "SetUpTestSuite of Fixture failed:", "*cannot set the suite up"])
    result.stdout.fnmatch_lines(["SKIPPED [[]2[]] *disabled (a DISABLED_ test; "
                                 "--xarch-run-disabled runs it)"])
    by_outcome = {record["nodeid"].split("::")[1]: record["outcome"]
                  for record in report["tests"]}
    assert by_outcome["Fixture.First[aarch64]"] == "error"
    assert by_outcome["Plain.DISABLED_Broken[aarch64]"] == "skipped"
    disabled = next(r for r in report["tests"] if "DISABLED_Broken" in r["nodeid"])
    assert disabled["fidelity"] == "static"  # nothing ran


def test_gtest_runs_disabled_tests_when_asked(pytester: pytest.Pytester,
                                              suites_root: Path) -> None:
    binary = builders.gtest_binary(suites_root, "aarch64", VERDICTS / "gtest_verdicts.cc",
                                   name="verdicts_test")
    raw = raw_summary(binary, "--gtest_also_run_disabled_tests")
    raw_failed = summary_count(raw, r"^\[  FAILED  \] (\d+) tests?, listed below")
    _, counts, _ = pytest_counts(pytester, binary, "--xarch-run-disabled")
    assert counts["failed"] == raw_failed == 3


def test_catch2_expected_failures_and_warnings(pytester: pytest.Pytester,
                                               suites_root: Path) -> None:
    binary = builders.catch2_binary(suites_root, "aarch64", VERDICTS / "catch2_verdicts.cpp",
                                    name="verdicts_test")
    raw = raw_summary(binary)
    line = re.search(r"^test cases: (\d+) \| (\d+) passed \| (\d+) failed \| (\d+) failed as "
                     r"expected", raw, re.MULTILINE)
    assert line is not None, raw
    total, passed, failed, expected = map(int, line.groups())
    result, counts, _ = pytest_counts(pytester, binary)
    assert counts == {"passed": passed, "failed": failed, "xfailed": expected}
    assert sum(counts.values()) == total == 8  # the hidden [.] case is not collected
    result.stdout.fnmatch_lines(["*passed, but [[]!shouldfail[]] expects it to fail*"])
    if pytest.version_tuple >= (7, 4):  # earlier pytest shows no xfail reason in the summary
        # pytest 7.4 writes "- reason: [!mayfail]", pytest 8 and later "- [!mayfail]".
        result.stdout.fnmatch_lines(["XFAIL *may fail and fails* - *[[]!mayfail[]]:*"])


def test_doctest_expected_failures_duplicates_and_skips(pytester: pytest.Pytester,
                                                        suites_root: Path) -> None:
    binary = builders.doctest_binary(suites_root, "aarch64",
                                     VERDICTS / "doctest_verdicts.cpp", name="verdicts_test")
    raw = raw_summary(binary, "--no-colors")
    line = re.search(r"test cases: (\d+) \| (\d+) passed \| (\d+) failed \| (\d+) skipped", raw)
    assert line is not None, raw
    run_cases, passed, failed, skipped = map(int, line.groups())
    result, counts, report = pytest_counts(pytester, binary)
    # doctest counts an expected failure as passed: pytest's passed + xfailed.
    assert counts["passed"] + counts["xfailed"] == passed
    assert (counts["failed"], counts["skipped"]) == (failed, skipped)
    assert counts == {"passed": 4, "xfailed": 3, "failed": 4, "skipped": 1}
    assert run_cases + skipped == len(report["tests"])
    ids = {record["nodeid"].split("::")[1]: record["outcome"] for record in report["tests"]}
    assert (ids["duplicate[aarch64]"], ids["duplicate#2[aarch64]"]) == ("passed", "failed")
    assert ids["warns[aarch64]"] == "passed"
    assert ids["one of two expected failures[aarch64]"] == "failed"
    result.stdout.fnmatch_lines(["*expected_failures(2) expects exactly that many*"])
    (target,) = report["targets"]  # what the fidelity matrix shows
    assert {k: v for k, v in target["counts"].items() if v} == {
        "passed": 4, "xfailed": 3, "failed": 4, "skipped": 1}
    header = next(line for line in result.stdout.lines if line.startswith("target "))
    assert "xfailed" in header.split()


def test_xdist_keeps_one_launch_per_binary_and_target(
    pytester: pytest.Pytester, suites_root: Path, launches: Launches,
) -> None:
    """Under -n 2 each binary is listed once (the listing cache is shared) and run in one
    batch, as in a serial run: its cases are not split over the workers."""
    sources = {"g": (builders.gtest_binary, "gtest_verdicts.cc"),
               "c": (builders.catch2_binary, "catch2_verdicts.cpp"),
               "d": (builders.doctest_binary, "doctest_verdicts.cpp")}
    for folder, (build, source) in sources.items():
        binary = build(suites_root, "aarch64", VERDICTS / source, name="verdicts_test")
        (pytester.path / folder).mkdir()
        copy = pytester.path / folder / "verdicts_test"
        copy.write_bytes(binary.read_bytes())
        copy.chmod(0o755)

    def launched(*args: str) -> tuple[dict[str, int], dict[str, int]]:
        launches.clear()
        shutil.rmtree(pytester.path / ".pytest_cache", ignore_errors=True)
        result = pytester.runpytest_subprocess("--xarch=aarch64", *args)
        return ({folder: launches.of(f"/{folder}/verdicts_test") for folder in sources},
                result.parseoutcomes())

    serial, serial_outcomes = launched()
    parallel, parallel_outcomes = launched("-n", "2")
    assert serial == {"g": 2, "c": 2, "d": 2}  # listing + one batch each
    assert parallel == serial
    assert parallel_outcomes == serial_outcomes


def test_go_subtests_are_items_counted_as_go_reports_them(
    pytester: pytest.Pytester, suites_root: Path, launches: Launches,
) -> None:
    """Every test and subtest `-test.v` reports is an item (a parent whose subtest failed
    fails too, as Go reports it); once the listing is cached, a chosen subtest runs alone."""
    require_tool("go", "golang-go")
    binary = builders.go_binary(suites_root, "arm64", "subtests")
    raw = raw_summary(binary, "-test.v", "-test.count=1")
    raw_counts = {word: len(re.findall(rf"^\s*--- {word}: ", raw, re.MULTILINE))
                  for word in ("PASS", "FAIL", "SKIP")}
    assert raw_counts == {"PASS": 6, "FAIL": 3, "SKIP": 1}
    result, counts, report = pytest_counts(pytester, binary, "-n", "2")
    assert counts == {"passed": raw_counts["PASS"], "failed": raw_counts["FAIL"],
                      "skipped": raw_counts["SKIP"]}
    ids = [record["nodeid"].split("::", 1)[1] for record in report["tests"]]
    assert {"TestTable/one#01[aarch64]", "TestTable/two_words[aarch64]",
            "TestTable/nested/deep[aarch64]", "TestParentFails/fine[aarch64]"} <= set(ids)
    result.stdout.fnmatch_lines(["*subtests_test.go:11: two words: bad*"])
    result.stdout.fnmatch_lines(["*subtests_test.go:23: the parent's own check*"])

    pytester.runpytest_subprocess("--xarch=aarch64", "--collect-only")  # lists, cached
    launches.clear()
    chosen = pytester.runpytest_subprocess("--xarch=aarch64", "-k", "two_words")
    assert chosen.parseoutcomes() == {"failed": 1, "deselected": 9}
    [launch] = [line for line in launches.lines() if "subtests.test" in line]
    assert launch.endswith("-test.run ^TestTable$/^(two_words)$")
