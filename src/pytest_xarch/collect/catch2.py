"""Catch2 binaries (v2 and v3): list the names, run a test spec, read the XML reporter.

The XML reporter flushes element by element, so a report cut short by a crash
or a kill is read as far as it goes: the `<TestCase>` opened last and never
closed is the case that was running.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from ..runners import RunResult
from .base import (
    FAILED,
    PASSED,
    SKIPPED,
    XFAILED,
    BatchReport,
    CaseKeys,
    CaseResult,
    Framework,
    Launch,
    ListingError,
)
from .progress import CaseProgress, ReportProgress

_REPORT = "catch2-report.xml"
_SPECIAL = set('\\,[]"')
_FAILURE_TAGS = ("Expression", "FatalErrorCondition", "Exception", "Failure")


class Catch2(Framework):
    """Catch2 v2 (`--list-test-names-only`) and v3 (`--list-tests --verbosity quiet`)."""

    name = "catch2"

    def list_args(self) -> list[str]:
        return ["--list-test-names-only"]

    def list_cases(self, launch: Launch) -> list[str]:
        # v2 exits with the number of cases listed; v3 rejects the v2 option.
        for args in (self.list_args(), ["--list-tests", "--verbosity", "quiet"]):
            result = launch(args, None)
            if not result.timed_out and not result.signal and "Unrecognised" not in (
                result.stdout + result.stderr
            ):
                return self.parse_list(result.stdout)
        raise ListingError(f"listing the Catch2 cases failed: {result.outcome()}\n"
                           f"{result.explain()}")

    def parse_list(self, stdout: str) -> list[str]:
        names = []
        for line in stdout.splitlines():
            name = line.rstrip()
            if len(name) > 1 and name.startswith('"') and name.endswith('"'):
                name = name[1:-1]  # v2 quotes names starting with '#'
            if name:
                names.append(name)
        return names

    def run_args(self, cases: Sequence[str], scratch: Path) -> list[str]:
        return [",".join(spec_escape(name) for name in cases), "--reporter", "xml",
                "--out", str(scratch / _REPORT), "--durations", "yes"]

    def progress(self, scratch: Path, case_timeout: float) -> CaseProgress:
        return ReportProgress(case_timeout, scratch / _REPORT)

    def parse_run(self, result: RunResult, cases: Sequence[str], scratch: Path) -> BatchReport:
        return parse_xml_report(scratch / _REPORT)


def spec_escape(name: str) -> str:
    """A Catch2 test spec that matches exactly the case called `name`."""
    escaped = "".join("\\" + char if char in _SPECIAL else char for char in name)
    if escaped.startswith(("~", "*")):
        escaped = "\\" + escaped
    if escaped.endswith("*"):
        escaped = escaped[:-1] + "\\*"
    return escaped


def parse_xml_report(path: Path) -> BatchReport:
    """The XML report at `path` (Catch2's and doctest's share a shape); empty if missing."""
    try:
        data = path.read_bytes()
    except OSError:
        data = b""
    return parse_xml_stream(data)


def parse_xml_stream(data: bytes) -> BatchReport:
    """Results from a (possibly truncated) Catch2 or doctest XML report.

    Cases are keyed by name, a repeated name (doctest) by `unique_names`' key in
    document order, which is the listing's order.
    """
    report = BatchReport()
    current: Optional[str] = None
    keys = CaseKeys()
    for event, element in _events(data):
        if element.tag != "TestCase":
            continue
        if event == "start":
            current = keys.key(element.get("name", ""))
            continue
        if current is not None:
            report.results[current] = _case_result(element)
        current = None
    report.running = current
    return report


def _events(data: bytes) -> list[tuple[str, ET.Element]]:
    """(start|end, element) events of the XML up to where it is cut or broken."""
    parser = ET.XMLPullParser(events=("start", "end"))  # type: ignore[var-annotated]
    events: list[tuple[str, ET.Element]] = []
    for line in data.splitlines(keepends=True):
        try:
            parser.feed(line)
            events.extend(parser.read_events())  # type: ignore[arg-type]
        except ET.ParseError:
            break
    return events


def _case_result(element: ET.Element) -> CaseResult:
    """One case as the framework counts it: its overall verdict decides, failed assertions
    under an expected-failure decorator make it xfailed, warnings never fail it."""
    messages = [_failure_text(node) for node in element.iter() if _is_failure(node)]
    overall = element.find("OverallResult")
    duration: Optional[float] = None
    output = ""
    success, skips = True, 0
    if overall is not None:
        success = overall.get("success") == "true"
        skips = int(overall.get("skips", "0") or 0)
        try:
            duration = float(overall.get("durationInSeconds", ""))
        except ValueError:
            duration = None
        output = "\n".join((node.text or "").strip() for node in overall if node.tag in
                           ("StdOut", "StdErr"))
    asserts = element.find("OverallResultsAsserts")  # doctest's variant of the same format
    if asserts is not None:
        success = asserts.get("test_case_success") == "true"
    if element.get("skipped") == "true":
        return CaseResult(SKIPPED, "skipped (doctest::skip)")
    expected = _expectation(element)
    if not success:
        text = "\n\n".join(messages) or (
            f"passed, but {expected} expects it to fail" if expected else "failed")
        if asserts is not None and asserts.get("expected_failures"):
            text = (f"{asserts.get('failures', '?')} assertion(s) failed, "
                    f"doctest::expected_failures({asserts.get('expected_failures')}) expects "
                    f"exactly that many\n\n{text}")
        return CaseResult(FAILED, text, output, duration)
    if messages:  # failed assertions in a case the framework counts as a pass
        reason = expected or "expected failures"
        return CaseResult(XFAILED, f"{reason}:\n" + "\n\n".join(messages), output, duration)
    if skips:
        skip_texts = [(node.text or "").strip() for node in element.iter("Skip")]
        return CaseResult(SKIPPED, "\n".join(t for t in skip_texts if t) or "skipped", output,
                          duration)
    return CaseResult(PASSED, "", output, duration)


def _expectation(element: ET.Element) -> str:
    """How the case is decorated to fail: `[!shouldfail]`, `doctest::may_fail`, ... or ''."""
    tags = element.get("tags", "")
    for tag in ("[!shouldfail]", "[!mayfail]"):
        if tag in tags:
            return tag
    for attribute in ("should_fail", "may_fail"):
        if element.get(attribute) == "true":
            return f"doctest::{attribute}"
    asserts = element.find("OverallResultsAsserts")
    if asserts is not None and asserts.get("expected_failures"):
        return f"doctest::expected_failures({asserts.get('expected_failures')})"
    return ""


def _is_failure(node: ET.Element) -> bool:
    """A failed assertion, exception or FAIL; never a failed WARN (it does not fail a case)."""
    if node.tag not in _FAILURE_TAGS:
        return False
    if node.tag != "Expression":
        return True
    return node.get("success") == "false" and node.get("type") != "WARN"


def _failure_text(node: ET.Element) -> str:
    where = f"{node.get('filename')}:{node.get('line')}" if node.get("filename") else "?"
    if node.tag == "Expression":
        original = (node.findtext("Original") or "").strip()
        expanded = (node.findtext("Expanded") or "").strip()
        return f"{where}: {node.get('type', 'CHECK')}( {original} )\nwith expansion:\n  {expanded}"
    prefix = f"{where}: " if where != "?" else ""
    return f"{prefix}{node.tag}: {(node.text or '').strip()}"
