"""doctest binaries: `--list-test-cases`, `--test-case=a,b`, the XML reporter.

doctest's XML report has the shape of Catch2's, so it is read by the same parser.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..runners import RunResult
from .base import BatchReport, Framework
from .catch2 import parse_xml_report
from .progress import CaseProgress, ReportProgress

_REPORT = "doctest-report.xml"
_RULE = "=" * 20


class Doctest(Framework):
    """doctest 2.x. Cases decorated with `doctest::skip()` are listed (`--no-skip`) and
    reported skipped, as doctest's summary counts them; two cases may share a name."""

    name = "doctest"

    def list_args(self) -> list[str]:
        return ["--list-test-cases", "--no-colors", "--no-skip"]

    def parse_list(self, stdout: str) -> list[str]:
        # The names sit between the rules that follow "listing all test case names".
        lines = stdout.splitlines()
        start = next((i for i, line in enumerate(lines) if "listing all test case names" in line),
                     None)
        if start is None:
            return []
        names: list[str] = []
        for line in lines[start + 2:]:
            if line.startswith(_RULE):
                break
            if line.strip():
                names.append(line.rstrip())
        return names

    def run_args(self, cases: Sequence[str], scratch: Path) -> list[str]:
        spec = ",".join(name.replace("\\", "\\\\").replace(",", "\\,") for name in cases)
        return [f"--test-case={spec}", "--reporters=xml", f"--out={scratch / _REPORT}",
                "--no-colors"]

    def progress(self, scratch: Path, case_timeout: float) -> CaseProgress:
        return ReportProgress(case_timeout, scratch / _REPORT)

    def parse_run(self, result: RunResult, cases: Sequence[str], scratch: Path) -> BatchReport:
        return parse_xml_report(scratch / _REPORT)
