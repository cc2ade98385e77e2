"""Several `--xarch-report` JSON files (an emulated CI stage, a hardware stage on a board, a
nightly stage) merged into one confidence matrix: for every test and target, the highest
fidelity it passed at, where it failed, and whether real silicon ever proved it.

A test is known by its node id (which carries its target, `test_crc[aarch64]`) and
its target, so the same test run by different jobs meets itself here.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .errors import ConfigError
from .fidelity import Fidelity

REPORT_VERSION = 1
FAILURES = ("failed", "error")
FAILING, PROVEN, EMULATED_ONLY, STATIC_ONLY, NOT_RUN = (
    "failing", "proven on silicon", "never proven on silicon", "only checked, never run",
    "no result")


@dataclass
class Evidence:
    """What one report says about one test."""

    source: str  # the report's file name
    outcome: str  # pytest's category: passed, failed, error, skipped, ..., interrupted
    fidelity: Fidelity
    runner: str


@dataclass
class Verdict:
    """One test for one target, across the reports."""

    nodeid: str
    target: str
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def best_pass(self) -> Optional[Fidelity]:
        """The highest fidelity any report passed it at."""
        passed = [item.fidelity for item in self.evidence if item.outcome == "passed"]
        return max(passed) if passed else None

    @property
    def failures(self) -> list[Evidence]:
        return [item for item in self.evidence if item.outcome in FAILURES]

    @property
    def status(self) -> str:
        if self.failures:
            return FAILING
        best = self.best_pass
        if best is None:
            return NOT_RUN
        if best.is_silicon:
            return PROVEN
        return EMULATED_ONLY if best >= Fidelity.EMULATED else STATIC_ONLY


@dataclass
class Merged:
    """The verdicts, and the reports they come from."""

    sources: list[str]
    verdicts: list[Verdict]

    def as_json(self) -> dict[str, Any]:
        """The merged verdicts, JSON-ready (`xarch report --json`)."""
        return {
            "sources": self.sources,
            "tests": [{"nodeid": verdict.nodeid, "target": verdict.target,
                       "best_pass": str(verdict.best_pass) if verdict.best_pass else None,
                       "failed_at": [{"source": item.source, "fidelity": str(item.fidelity)}
                                     for item in verdict.failures],
                       "status": verdict.status} for verdict in self.verdicts],
        }

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for verdict in self.verdicts:
            found[verdict.status] = found.get(verdict.status, 0) + 1
        return found


def read_report(path: Path) -> dict[str, Any]:
    """A report written by `--xarch-report` (ConfigError naming the file otherwise)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read the report {path}: {error.strerror}") from None
    except ValueError as error:
        raise ConfigError(f"{path} is not JSON ({error}): give files written by "
                          "pytest --xarch-report=PATH") from None
    if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
        raise ConfigError(f"{path} is not a pytest-xarch report (no 'tests' list): give files "
                          "written by pytest --xarch-report=PATH")
    if data.get("version") != REPORT_VERSION:
        raise ConfigError(f"{path} is a version {data.get('version')!r} report; this xarch "
                          f"reads version {REPORT_VERSION}")
    return data


def merge(paths: Sequence[Path]) -> Merged:
    """The verdicts of the tests in the reports, in the order they first appear."""
    verdicts: dict[tuple[str, str], Verdict] = {}
    for path in paths:
        for record in read_report(path)["tests"]:
            try:
                key = (str(record["nodeid"]), str(record["target"]))
                evidence = Evidence(path.name, str(record["outcome"]),
                                    Fidelity.parse(str(record["fidelity"])),
                                    str(record.get("runner") or ""))
            except (KeyError, ValueError) as error:
                raise ConfigError(f"{path}: a test record is malformed ({error}): "
                                  f"{json.dumps(record)[:200]}") from None
            verdicts.setdefault(key, Verdict(*key)).evidence.append(evidence)
    return Merged([path.name for path in paths], list(verdicts.values()))


def _failed_at(verdict: Verdict) -> str:
    return ", ".join(f"{item.fidelity} ({item.source})" for item in verdict.failures) or "-"


def text_table(merged: Merged) -> str:
    """The matrix for a terminal: a row per test and target, then the totals."""
    rows = [("test", "target", "passed at", "failed at", "verdict")]
    rows += [(verdict.nodeid, verdict.target, str(verdict.best_pass or "-"),
              _failed_at(verdict), verdict.status) for verdict in merged.verdicts]
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]))]
    lines = [f"xarch report: {len(merged.sources)} report(s): {', '.join(merged.sources)}"]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
              for row in rows]
    totals = ", ".join(f"{count} {status}" for status, count in merged.counts().items())
    lines.append(f"{len(merged.verdicts)} test(s) x target(s): {totals}")
    return "\n".join(lines)


_STYLE = """
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: left; }
th { background: #eee; }
tr.failing td { background: #f8d0d0; }
tr.proven td { background: #d4f0d4; }
tr.emulated td { background: #fff3c4; }
tr.none td { background: #eee; color: #666; }
"""
_ROW_CLASS = {FAILING: "failing", PROVEN: "proven", EMULATED_ONLY: "emulated",
              STATIC_ONLY: "emulated", NOT_RUN: "none"}


def html_page(merged: Merged) -> str:
    """One self-contained page (no script, nothing fetched when viewed)."""
    escape = html.escape
    body = [f"<h1>pytest-xarch confidence matrix</h1><p>{len(merged.sources)} report(s): "
            f"{escape(', '.join(merged.sources))}</p>",
            "<p>" + escape(", ".join(f"{count} {status}"
                                     for status, count in merged.counts().items())) + "</p>",
            "<table><tr><th>test</th><th>target</th><th>passed at</th><th>failed at</th>"
            "<th>verdict</th><th>every result</th></tr>"]
    for verdict in merged.verdicts:
        every = "<br>".join(escape(f"{item.source}: {item.outcome} ({item.fidelity}, "
                                   f"{item.runner})") for item in verdict.evidence)
        body.append(
            f'<tr class="{_ROW_CLASS[verdict.status]}"><td>{escape(verdict.nodeid)}</td>'
            f"<td>{escape(verdict.target)}</td><td>{escape(str(verdict.best_pass or '-'))}</td>"
            f"<td>{escape(_failed_at(verdict))}</td><td>{escape(verdict.status)}</td>"
            f"<td>{every}</td></tr>")
    body.append("</table>")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>pytest-xarch confidence matrix</title><style>{_STYLE}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")
