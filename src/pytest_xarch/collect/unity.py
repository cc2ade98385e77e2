"""Unity (ThrowTheSwitch) test runners: one case per `RUN_TEST`, read from the run's output.

A Unity runner is a `main` that calls `RUN_TEST` for each case and prints one line
per case when it ends, `file:line:name:PASS`, `file:line:name:FAIL: message` or
`file:line:name:IGNORE[: message]`, then a summary (`N Tests M Failures K Ignored`).
It cannot list or choose its cases: the listing is a whole run (its summary must
be there, or cases after an early end would be missing), and every launch runs
every case (the framework is not `selective`). Cases are told apart by name in
run order (a name run twice becomes `name#2`). IGNORE is a skip.

Unity writes with `putchar` and flushes only when the build defines
`UNITY_OUTPUT_FLUSH`, so output buffered when a runner crashes or is killed is
lost: no case is blamed then, every case without a result is an error that says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ..runners import RunResult
from .base import (
    FAILED,
    PASSED,
    SKIPPED,
    BatchReport,
    CaseKeys,
    CaseResult,
    Framework,
    Launch,
    ListingError,
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# A case's result line; what the case printed without a newline may come first.
_RESULT = re.compile(
    r"(?P<file>[^:\n]*):(?P<line>\d+):(?P<name>[^:\n]+):(?P<status>PASS|FAIL|IGNORE)"
    r"(?::\s?(?P<message>.*))?$"
)
_SUMMARY = re.compile(r"^(\d+) Tests (\d+) Failures (\d+) Ignored\s*$")
_OUTCOMES = {"PASS": PASSED, "FAIL": FAILED, "IGNORE": SKIPPED}


class Unity(Framework):
    """Runners built with Unity's `RUN_TEST` (unity.c)."""

    name = "unity"
    selective = False

    def list_cases(self, launch: Launch) -> list[str]:
        result = launch([], None)
        report = parse_output(result.stdout)
        if report.summary is None:
            seen = ", ".join(report.order) or "none"
            raise ListingError(
                "a Unity runner lists its cases by running them all, and this run ended "
                f"({result.outcome()}) before Unity's summary line, so cases after the end "
                f"are unknown; cases reported: {seen}\n{result.explain()}"
            )
        if report.summary[0] != len(report.order):
            raise ListingError(
                f"Unity's summary counts {report.summary[0]} tests but "
                f"{len(report.order)} result lines were read (does a case print text that "
                f"breaks a line?)\n{result.explain()}"
            )
        return report.order

    def list_args(self) -> list[str]:
        return []

    def parse_list(self, stdout: str) -> list[str]:
        return parse_output(stdout).order

    def run_args(self, cases: Sequence[str], scratch: Path) -> list[str]:
        return []  # every case runs

    def parse_run(self, result: RunResult, cases: Sequence[str], scratch: Path) -> BatchReport:
        # No running case: output buffered when the runner died is lost, so the cases
        # without a result are not told apart (see BinaryRunner's non-selective launch).
        return BatchReport(parse_output(result.stdout).results)


class UnityOutput:
    """A Unity run's output, read: results by case, their order, the summary."""

    def __init__(self) -> None:
        self.results: dict[str, CaseResult] = {}
        self.order: list[str] = []
        self.summary: tuple[int, int, int] | None = None
        self.trailing = ""  # printed after the last result line


def parse_output(stdout: str) -> UnityOutput:
    """Results (with what each case printed) and the summary from a Unity run's stdout."""
    parsed = UnityOutput()
    keys = CaseKeys()
    printed: list[str] = []
    lines = [_ANSI.sub("", raw) for raw in stdout.splitlines()]
    # Test files named by result lines of their own (to split text glued to a result line).
    files = {found.group("file") for line in lines if (found := _RESULT.match(line))}
    for line in lines:
        summary = _SUMMARY.match(line)
        if summary:
            parsed.summary = (int(summary.group(1)), int(summary.group(2)),
                              int(summary.group(3)))
            continue
        found = _RESULT.search(line)
        if found is None:
            printed.append(line)
            continue
        file = found.group("file")
        known = max((name for name in files if name != file and file.endswith(name)),
                    key=len, default=file)
        before = line[:found.start() + len(file) - len(known)]
        where = f"{known}:{found.group('line')}"
        if before:
            printed.append(before)
        case = keys.key(found.group("name"))
        outcome = _OUTCOMES[found.group("status")]
        message = (found.group("message") or "").strip() or found.group("status").lower()
        text = "\n".join(printed)
        parsed.results[case] = CaseResult(
            outcome,
            message=f"{where}: {message}" if outcome != PASSED else "",
            output=text,
        )
        if outcome == FAILED and text.strip():
            parsed.results[case].message += f"\n{text}"
        parsed.order.append(case)
        printed = []
    parsed.trailing = "\n".join(
        line for line in printed
        if line.strip() not in ("", "OK", "FAIL") and not line.startswith("-----"))
    return parsed
