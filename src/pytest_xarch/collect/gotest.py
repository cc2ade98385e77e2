"""Go test binaries (`go test -c`): `-test.list`, `-test.run` patterns, `-test.v` output.

The verbose output is read the way `go tool test2json` reads it: `=== RUN`
starts a test or subtest, `--- PASS/FAIL/SKIP: Name (0.01s)` (indented for
subtests) ends it, and the lines in between are its output. Every test and
subtest Go reports is a case (`TestParse/empty_input`), so pytest counts what
`-test.v` reports: a parent whose subtest failed fails too, as in Go.

Go lists only top-level tests; subtests exist once their parent runs. So with
`subtests` the listing also runs the top-level tests once (watched and recovered
like any batch) and names what they ran; those results serve the first batch.
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
_CASE = re.compile(r"^(Test|Example|Fuzz)\w*$")


class GoTest(Framework):
    """Binaries built by `go test -c` (package `testing`)."""

    name = "go"

    def __init__(self, subtests: bool = True) -> None:
        self.discovers = subtests

    def list_args(self) -> list[str]:
        return ["-test.list", ".*"]

    def progress(self, scratch: Path, case_timeout: float) -> CaseProgress:
        return GoProgress(case_timeout)

    def parse_list(self, stdout: str) -> list[str]:
        return [line.strip() for line in stdout.splitlines() if _CASE.match(line.strip())]

    def expand(self, listed: Sequence[str], ran: Sequence[str]) -> list[str]:
        """The listed top-level tests, each followed by the subtests it ran (in run order)."""
        below: dict[str, list[str]] = {}
        for name in ran:
            top, _, rest = name.partition("/")
            if rest:
                below.setdefault(top, []).append(name)
        return [name for top in listed for name in (top, *below.get(top, []))]

    def run_args(self, cases: Sequence[str], scratch: Path) -> list[str]:
        return ["-test.v", "-test.count=1", "-test.run", run_pattern(cases)]

    def parse_run(self, result: RunResult, cases: Sequence[str], scratch: Path) -> BatchReport:
        report = parse_verbose(result.stdout)
        if "panic:" in result.stderr and report.results:
            # The panicking test reports FAIL first, then the panic ends the binary.
            last = list(report.results.values())[-1]
            if last.outcome == FAILED:
                last.message = f"{last.message}\n{output_tail(result.stderr)}".strip()
        running = report.running
        if running and "/" in running:
            # A subtest was stopped: the tests around it cannot finish either.
            parts = running.split("/")
            for depth in range(1, len(parts)):
                parent = "/".join(parts[:depth])
                report.results.setdefault(parent, CaseResult(
                    FAILED, f"{parent} did not finish: its subtest {running} was running when "
                    f"the launch ended ({result.outcome()})"))
        return report


def run_pattern(cases: Sequence[str]) -> str:
    """A `-test.run` pattern for exactly these tests: a top-level test runs whole (with its
    subtests); of a test given only by subtests, just those run (Go's `|` of `/` paths)."""
    tops = list(dict.fromkeys(case.split("/", 1)[0] for case in cases))
    whole = {case for case in cases if "/" not in case}
    alternatives = []
    if whole:
        alternatives.append("^(" + "|".join(top for top in tops if top in whole) + ")$")
    for top in tops:
        if top not in whole:
            subs = dict.fromkeys(case.split("/")[1] for case in cases
                                 if case.split("/", 1)[0] == top)
            alternatives.append(f"^{top}$/^(" + "|".join(map(re.escape, subs)) + ")$")
    return "|".join(alternatives)


class GoProgress(LineProgress):
    """The running test: Go prints `=== RUN` (or `=== CONT`/`=== NAME` when output switches)
    as each test and subtest starts, but a subtest's result only after its parent's, so
    the clock restarts at each marker and stops at a top-level result."""

    def __init__(self, case_timeout: float) -> None:
        super().__init__(case_timeout, re.compile(r"^=== (?:RUN|CONT|NAME) +(\S+)\s*$"),
                         re.compile(r"^--- (?:PASS|FAIL|SKIP): "))


def parse_verbose(stdout: str) -> BatchReport:
    """Per-test and per-subtest results (in start order) and the running one, from
    `-test.v` output."""
    report = BatchReport()
    results: dict[str, CaseResult] = {}
    output: dict[str, list[str]] = {}
    started: list[str] = []
    current: Optional[str] = None
    for line in stdout.splitlines():
        start = _START.match(line)
        if start:
            current = start.group(2)
            if start.group(1) == "RUN" and current not in output:
                output[current] = []
                started.append(current)
            continue
        end = _END.match(line)
        if end:
            name = end.group(3)
            current = None  # result lines come in a block after the top-level test
            text = "\n".join(output.get(name, []))
            outcome = _OUTCOMES[end.group(2)]
            results[name] = CaseResult(outcome, message=text if outcome != PASSED else "",
                                       output=text, duration=float(end.group(4)))
            continue
        if current is not None and line not in ("PASS", "FAIL") and not line.startswith(
            ("ok ", "FAIL\t")
        ):
            output.setdefault(current, []).append(line)
    for name, found in results.items():
        failed_below = [sub for sub, below in results.items()
                        if sub.startswith(name + "/") and below.outcome == FAILED]
        if found.outcome == FAILED and failed_below:
            note = f"{name}: its subtest(s) failed: {', '.join(failed_below)}"
            found.message = f"{found.message}\n{note}".strip()
    report.results = {name: results[name] for name in started if name in results}
    report.results.update(results)
    unfinished = [name for name in started if name not in results]
    if unfinished:
        report.running = unfinished[-1]
        report.running_output = "\n".join(output.get(report.running, []))
    return report
