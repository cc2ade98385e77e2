"""Rust libtest binaries (`cargo test --no-run`): `--list --format terse`, `--exact` runs.

Cases run one at a time (`--test-threads=1`) so that libtest prints
`test NAME ... ` before each case: the last such line without a result is the
case that was running when the binary crashed or was killed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from ..runners import RunResult
from .base import FAILED, PASSED, SKIPPED, BatchReport, CaseResult, Framework
from .progress import CaseProgress, LibtestProgress

_LISTED = re.compile(r"^(.+): test$")
_STARTED = re.compile(r"^test (\S+) \.\.\. ?(.*)$")
_SECTION = re.compile(r"^---- (\S+) std(?:out|err) ----$")


class RustTest(Framework):
    """libtest, the harness of `#[test]` functions."""

    name = "rust"

    def list_args(self) -> list[str]:
        return ["--list", "--format", "terse"]

    def progress(self, scratch: Path, case_timeout: float) -> CaseProgress:
        return LibtestProgress(case_timeout)

    def parse_list(self, stdout: str) -> list[str]:
        return [m.group(1) for m in map(_LISTED.match, stdout.splitlines()) if m]

    def run_args(self, cases: Sequence[str], scratch: Path) -> list[str]:
        return ["--exact", "--test-threads=1", "--color", "never", *cases]

    def parse_run(self, result: RunResult, cases: Sequence[str], scratch: Path) -> BatchReport:
        report = BatchReport()
        sections: dict[str, list[str]] = {}
        section = None
        for line in result.stdout.splitlines():
            header = _SECTION.match(line)
            if header:
                section = header.group(1)
                sections.setdefault(section, [])
                continue
            if section is not None:
                if line in ("failures:", "successes:") or line.startswith("test result:"):
                    section = None
                else:
                    sections[section].append(line)
                continue
            started = _STARTED.match(line)
            if not started:
                continue
            name, status = started.group(1), started.group(2).strip()
            if not status:
                report.running = name
            elif status == "ok":
                report.results[name] = CaseResult(PASSED)
            elif status.startswith("ignored"):
                reason = status.partition(",")[2].strip()
                report.results[name] = CaseResult(SKIPPED, reason or "ignored")
            elif status == "FAILED":
                report.results[name] = CaseResult(FAILED, "failed")
            if name in report.results and report.running == name:
                report.running = None
        for name, lines in sections.items():
            if name in report.results:
                text = "\n".join(lines).strip()
                report.results[name].output = text
                if report.results[name].outcome == FAILED:
                    report.results[name].message = text or "failed"
        return report
