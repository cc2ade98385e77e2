"""Go test binaries (`go test -c`): `-test.list`, `-test.run '^(A|B)$'`, `-test.v` output.

The verbose output is read the way `go tool test2json` reads it: `=== RUN`
starts a test, `--- PASS/FAIL/SKIP: Name (0.01s)` ends it, and the lines in
between are its output. Subtests are part of their top-level test's case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from ..runners import RunResult
from .base import FAILED, PASSED, SKIPPED, BatchReport, CaseResult, Framework, output_tail
from .progress import CaseProgress, LineProgress

_START = re.compile(r"^=== (RUN|CONT|PAUSE|NAME) +(\S+)\s*$")
_END = re.compile(r"^(\s*)--- (PASS|FAIL|SKIP): (\S+) \(([\d.]+)s\)\s*$")
_OUTCOMES = {"PASS": PASSED, "FAIL": FAILED, "SKIP": SKIPPED}
_TOP_RUN = re.compile(r"^=== RUN +([^/\s]+)\s*$")  # a top-level test (subtests have a /)
_TOP_END = re.compile(r"^--- (?:PASS|FAIL|SKIP): [^/\s]+ ")
_CASE = re.compile(r"^(Test|Example|Fuzz)\w*$")


class GoTest(Framework):
    """Binaries built by `go test -c` (package `testing`)."""

    name = "go"

    def list_args(self) -> list[str]:
        return ["-test.list", ".*"]

    def progress(self, scratch: Path, case_timeout: float) -> CaseProgress:
        return LineProgress(case_timeout, _TOP_RUN, _TOP_END)

    def parse_list(self, stdout: str) -> list[str]:
        return [line.strip() for line in stdout.splitlines() if _CASE.match(line.strip())]

    def run_args(self, cases: Sequence[str], scratch: Path) -> list[str]:
        return ["-test.v", "-test.count=1", "-test.run", "^(" + "|".join(cases) + ")$"]

    def parse_run(self, result: RunResult, cases: Sequence[str], scratch: Path) -> BatchReport:
        report = parse_verbose(result.stdout)
        if "panic:" in result.stderr and report.results:
            # The panicking test reports FAIL first, then the panic ends the binary.
            last = list(report.results.values())[-1]
            if last.outcome == FAILED:
                last.message = f"{last.message}\n{output_tail(result.stderr)}".strip()
        return report


def parse_verbose(stdout: str) -> BatchReport:
    """Per-test results and the running test from `-test.v` output."""
    report = BatchReport()
    output: dict[str, list[str]] = {}
    started: list[str] = []
    current: Optional[str] = None
    for line in stdout.splitlines():
        start = _START.match(line)
        if start:
            current = start.group(2).split("/", 1)[0]
            if start.group(1) == "RUN" and current not in output:
                output[current] = []
                started.append(current)
            continue
        end = _END.match(line)
        if end:
            name = end.group(3)
            current = name.split("/", 1)[0]
            if not end.group(1) and "/" not in name:
                text = "\n".join(output.get(name, []))
                outcome = _OUTCOMES[end.group(2)]
                report.results[name] = CaseResult(
                    outcome, message=text if outcome != PASSED else "", output=text,
                    duration=float(end.group(4)),
                )
            continue
        if current is not None and line not in ("PASS", "FAIL") and not line.startswith(
            ("ok ", "FAIL\t")
        ):
            output.setdefault(current, []).append(line)
    unfinished = [name for name in started if name not in report.results]
    if unfinished:
        report.running = unfinished[-1]
        report.running_output = "\n".join(output.get(report.running, []))
    return report
