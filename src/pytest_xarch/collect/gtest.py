"""GoogleTest binaries: `--gtest_list_tests`, `--gtest_filter`, XML report plus console stream.

The console stream (`[ RUN ]` ... `[ OK ]`) is flushed case by case, so it
survives a crash and tells which case was running; the XML report, written at
the end of a complete run, adds failure messages and skip reasons.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from ..runners import RunResult
from .base import ERROR, FAILED, PASSED, SKIPPED, BatchReport, CaseResult, Framework
from .progress import CaseProgress, LineProgress

_RUN = re.compile(r"^\[ RUN      \] (.+?)\s*$")
_SUITE = re.compile(r"^\[----------\] \d+ tests? from (\S+?)(?:, where .*)?\s*$")
_SUITE_FAILED = re.compile(r"^\[  FAILED  \] (\S+?): SetUpTestSuite or TearDownTestSuite\s*$")
_END = re.compile(r"^\[ +(OK|FAILED|SKIPPED) +\] (.+?)(?:, where .*)? \((\d+) ms\)\s*$")
_ENDED = re.compile(r"^\[ +(?:OK|FAILED|SKIPPED) +\] ")
_OUTCOMES = {"OK": PASSED, "FAILED": FAILED, "SKIPPED": SKIPPED}
_REPORT = "gtest-report.xml"


class GoogleTest(Framework):
    """GoogleTest (any version with `--gtest_output=xml`).

    `DISABLED_` tests (and the tests of `DISABLED_` suites) are skipped without a
    launch, as GoogleTest and ctest report them, unless `run_disabled`.
    """

    name = "gtest"

    def __init__(self, *, run_disabled: bool = False) -> None:
        self.run_disabled = run_disabled

    def progress(self, scratch: Path, case_timeout: float) -> CaseProgress:
        return LineProgress(case_timeout, _RUN, _ENDED)

    def settled(self, case: str) -> Optional[CaseResult]:
        suite, _, test = case.partition(".")
        if self.run_disabled or not (suite.startswith("DISABLED_") or
                                     test.startswith("DISABLED_")):
            return None
        return CaseResult(SKIPPED, "disabled (a DISABLED_ test; --xarch-run-disabled runs it)")

    def list_args(self) -> list[str]:
        return ["--gtest_list_tests"]

    def parse_list(self, stdout: str) -> list[str]:
        cases: list[str] = []
        suite: Optional[str] = None
        for line in stdout.splitlines():
            text = line.split("#", 1)[0].rstrip()
            if not text:
                continue
            if not line.startswith(" "):
                suite = text if text.endswith(".") else None
            elif suite is not None:
                cases.append(suite + text.strip())
        return cases

    def run_args(self, cases: Sequence[str], scratch: Path) -> list[str]:
        return [
            "--gtest_filter=" + ":".join(cases),
            f"--gtest_output=xml:{scratch / _REPORT}",
            "--gtest_color=no",
            *(["--gtest_also_run_disabled_tests"] if self.run_disabled else []),
        ]

    def parse_run(self, result: RunResult, cases: Sequence[str], scratch: Path) -> BatchReport:
        report = parse_console(result.stdout)
        details = parse_xml(scratch / _REPORT)
        for name, detail in details.items():
            if name in report.results:
                found = report.results[name]
                if found.outcome == ERROR:
                    continue  # the XML (GoogleTest 1.12) has the cases skipped, the cause lost
                found.message = detail.message or found.message
                found.duration = detail.duration if detail.duration is not None else found.duration
            else:
                report.results[name] = detail
        return report


def parse_console(stdout: str) -> BatchReport:
    """Results and the running case from GoogleTest's console output.

    A suite whose SetUpTestSuite failed prints the failure before its first case
    and names itself at the end; its cases (which GoogleTest then skips, or does
    not run) are errors carrying that failure.
    """
    report = BatchReport()
    current: Optional[str] = None
    lines: list[str] = []
    suite: Optional[str] = None
    preambles: dict[str, list[str]] = {}
    failed_suites: list[str] = []
    for line in stdout.splitlines():
        opened = _SUITE.match(line)
        if opened and current is None:
            suite = opened.group(1)
            preambles.setdefault(suite, [])
            continue
        suite_failed = _SUITE_FAILED.match(line)
        if suite_failed:
            failed_suites.append(suite_failed.group(1))
            continue
        started = _RUN.match(line)
        if started:
            suite = None
        if started:
            current, lines = started.group(1), []
            continue
        ended = _END.match(line)
        if ended and current is not None and ended.group(2) == current:
            output = "\n".join(lines)
            outcome = _OUTCOMES[ended.group(1)]
            report.results[current] = CaseResult(
                outcome, message=output if outcome != PASSED else "", output=output,
                duration=int(ended.group(3)) / 1000,
            )
            current, lines = None, []
            continue
        if current is not None:
            lines.append(line)
        elif suite is not None:
            preambles[suite].append(line)
    report.running = current
    report.running_output = "\n".join(lines) if current is not None else ""
    for failed in failed_suites:
        text = "\n".join(preambles.get(failed, [])).strip()
        if not text:
            continue  # TearDownTestSuite failed: its cases ran and kept their results
        for name, result in report.results.items():
            if name.startswith(failed + "."):
                report.results[name] = CaseResult(
                    ERROR, f"SetUpTestSuite of {failed} failed:\n{text}", result.output,
                    result.duration)
    return report


def parse_xml(path: Path) -> dict[str, CaseResult]:
    """Per-case results from a `--gtest_output=xml` report ({} when absent or unreadable)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return {}
    results: dict[str, CaseResult] = {}
    for case in root.iter("testcase"):
        name = f"{case.get('classname')}.{case.get('name')}"
        failures = [f.text or f.get("message") or "" for f in case.findall("failure")]
        skipped = case.find("skipped")
        duration = _seconds(case.get("time"))
        if failures:
            results[name] = CaseResult(FAILED, "\n\n".join(failures), duration=duration)
        elif skipped is not None or case.get("result") == "skipped" or (
            case.get("status") == "notrun"
        ):
            text = skipped.get("message", "") if skipped is not None else "disabled"
            results[name] = CaseResult(SKIPPED, text or "skipped", duration=duration)
        else:
            results[name] = CaseResult(PASSED, duration=duration)
    return results


def _seconds(text: Optional[str]) -> Optional[float]:
    try:
        return float(text) if text else None
    except ValueError:
        return None
