"""Plain test executables: one case, passed on exit 0, skipped on exit 77 (Meson, automake)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..runners import RunResult
from .base import FAILED, PASSED, SKIPPED, BatchReport, CaseResult, Framework, Launch

EXIT_SKIP = 77


class Plain(Framework):
    """An executable whose exit status is the result; its single case is named after it."""

    name = "plain"
    exit_skip = EXIT_SKIP

    def __init__(self, case: str) -> None:
        self.case = case

    def list_cases(self, launch: Launch) -> list[str]:
        return [self.case]  # nothing to ask the binary

    def list_args(self) -> list[str]:
        return []

    def parse_list(self, stdout: str) -> list[str]:
        return [self.case]

    def run_args(self, cases: Sequence[str], scratch: Path) -> list[str]:
        return []

    def parse_run(self, result: RunResult, cases: Sequence[str], scratch: Path) -> BatchReport:
        if result.timed_out or result.signal:
            return BatchReport(running=self.case, running_output=result.stdout)
        output = result.stdout
        if result.returncode == 0:
            outcome = CaseResult(PASSED, output=output)
        elif result.returncode == EXIT_SKIP:
            outcome = CaseResult(SKIPPED, f"exit {EXIT_SKIP} (skipped)", output)
        else:
            outcome = CaseResult(FAILED, result.explain(), output)
        outcome.duration = result.duration
        return BatchReport({self.case: outcome})
