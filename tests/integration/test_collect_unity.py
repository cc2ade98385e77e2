"""Unity runners (ThrowTheSwitch), built for aarch64 from the Unity sources a Debian source
package vendors (fetched when the suites are built, never committed), counted by pytest
as Unity counts them when run raw under QEMU: directly, and as CTest tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pytest_xarch import run

from ..support.launches import Launches
from .suites import builders

UNITY = builders.SUITES / "unity"


def unity_summary(binary: Path) -> tuple[int, int, int]:
    """(tests, failures, ignored) from the runner's own summary, run raw under QEMU."""
    output = run("aarch64", [str(binary)], check=False, timeout=120).stdout
    found = re.search(r"^(\d+) Tests (\d+) Failures (\d+) Ignored", output, re.MULTILINE)
    assert found, output
    tests, failures, ignored = (int(group) for group in found.groups())
    return tests, failures, ignored


def test_unity_cases_count_as_unity_counts_them(
    pytester: pytest.Pytester, suites_root: Path, launches: Launches,
) -> None:
    binary = builders.unity_binary(suites_root, "aarch64")
    tests, failures, ignored = unity_summary(binary)
    assert (tests, failures, ignored) == (7, 2, 2)
    copy = pytester.path / "sample_test"
    copy.write_bytes(binary.read_bytes())
    copy.chmod(0o755)
    result = pytester.runpytest_subprocess("--xarch=aarch64", "--xarch-report=report.json",
                                           "-p", "no:cacheprovider", "-rA")
    assert result.parseoutcomes() == {"passed": tests - failures - ignored,
                                      "failed": failures, "skipped": ignored}
    # No cache: the listing run (a whole run) gave the results too.
    assert launches.of(str(copy)) == 1
    report = json.loads((pytester.path / "report.json").read_text())
    outcomes = {record["nodeid"].split("::", 1)[1]: record["outcome"]
                for record in report["tests"]}
    assert outcomes == {
        "test_adds[aarch64]": "passed", "test_fails_with_message[aarch64]": "failed",
        "test_ignored[aarch64]": "skipped", "test_ignored_bare[aarch64]": "skipped",
        "test_prints_then_passes[aarch64]": "passed", "test_strings[aarch64]": "failed",
        "test_adds#2[aarch64]": "passed"}
    assert {record["fidelity"] for record in report["tests"]} == {"emulated"}
    result.stdout.fnmatch_lines(["*sample_test.c:14: Expected 5 Was 4. arithmetic*"])
    result.stdout.fnmatch_lines(["SKIPPED *sample_test.c:16: not ready",
                                 "SKIPPED *sample_test.c:18: ignore"])


def test_a_crashing_unity_runner_is_one_honest_failure(pytester: pytest.Pytester,
                                                       suites_root: Path) -> None:
    """Unity lists nothing and prints no summary when a case crashes (its buffered output
    dies with it): no case is recorded as passed, the failure names the crash."""
    binary = builders.unity_binary(suites_root, "aarch64", UNITY / "crash_test.c",
                                   name="crash_test")
    copy = pytester.path / "crash_test"
    copy.write_bytes(binary.read_bytes())
    copy.chmod(0o755)
    result = pytester.runpytest_subprocess("--xarch=aarch64", "-p", "no:cacheprovider")
    assert result.parseoutcomes() == {"failed": 1}
    result.stdout.fnmatch_lines(["*before Unity's summary line*", "*killed by SIGSEGV*"])


def test_a_ctest_test_running_a_unity_runner_yields_its_cases(
    pytester: pytest.Pytester, suites_root: Path,
) -> None:
    tree = builders.unity_ctest_tree(suites_root, "aarch64")
    tests, failures, ignored = unity_summary(tree / "sample_test")
    result = pytester.runpytest_subprocess(str(tree), "--xarch=aarch64", "-p",
                                           "no:cacheprovider", "--xarch-report=report.json",
                                           "-n", "2")
    # The sample runner's cases, plus the crashing runner's listing failure.
    assert result.parseoutcomes() == {"passed": tests - failures - ignored,
                                      "failed": failures + 1, "skipped": ignored}
    report = json.loads((pytester.path / "report.json").read_text())
    ids = {record["nodeid"].split("::", 1)[1] for record in report["tests"]}
    assert "unity_sample/test_adds#2[aarch64]" in ids
    assert "unity_crash/list-cases[aarch64]" in ids
