"""Fidelity reporting: the report header, the terminal matrix and the JSON report."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import pytest

from .files import write_atomic
from .runners import RunResult
from .state import SessionState
from .targets import Target

OUTCOMES = ("passed", "failed", "skipped", "error")  # always shown; xfailed etc. when present


def header_line(state: SessionState) -> str:
    """`xarch: aarch64 via qemu-aarch64 7.2.22 -cpu cortex-a53 (emulated), x86_64 native`."""
    parts = []
    for target in state.targets:
        kind, description, fidelity = state.runner_summary(target)
        if kind == "unavailable":
            parts.append(f"{target.name} (no runner: {description})")
        else:
            parts.append(f"{target.name} via {description} ({fidelity})")
    return "xarch: " + ", ".join(parts) + f"\nxarch containment: {containment_line(state)}"


def containment_line(state: SessionState) -> str:
    """Which containment this session's runs get (without starting it)."""
    from . import containment
    from .errors import XarchError

    try:
        return str(containment.probe(state.settings.containment))
    except XarchError as error:
        return f"unavailable: {error}"


def _fidelity_breakdown(state: SessionState, target: str) -> str:
    levels = Counter(
        str(record.fidelity) for record in state.records.values()
        if record.target == target and record.outcome in {"passed", "failed"}
    )
    return ", ".join(f"{count} {level}" for level, count in sorted(levels.items())) or "-"


def _columns(state: SessionState) -> list[str]:
    """The outcome columns: pytest's usual four, then any other category that occurred."""
    extra = sorted({
        category for record in state.records.values() for category in record.categories
    } - set(OUTCOMES))
    return [*OUTCOMES, *extra]


def matrix_rows(state: SessionState) -> list[tuple[str, ...]]:
    """Header and one row per target: runner, outcome counts, fidelity obtained."""
    columns = _columns(state)
    rows: list[tuple[str, ...]] = [
        ("target", "runner", "libraries", *columns, "fidelity obtained")]
    cells = {target.name: _runner_cells(state, target) for target in state.targets}
    selected = set(cells)
    for record in state.records.values():  # tests of the host itself (CTest host commands)
        cells.setdefault(record.target, ("host commands", "-"))
    for name, (engine, libraries) in cells.items():
        counts = state.counts(name)
        label = name if name in selected else f"{name} (host)"
        rows.append((
            label, engine, libraries, *(str(counts.get(o, 0)) for o in columns),
            _fidelity_breakdown(state, name),
        ))
    return rows


def _runner_cells(state: SessionState, target: Target) -> tuple[str, str]:
    """(engine, library root) of the target's runner; why there is none, shortened."""
    kind, engine, _ = state.runner_summary(target, engine_only=True)
    if kind == "unavailable":
        return (engine if len(engine) <= 60 else engine[:57] + "...", "-")
    root = state.runner(target).root
    return engine, f"{root.tree} ({root.kind})" if root else "-"


def write_terminal_summary(state: SessionState, terminal: Any) -> None:
    """The `xarch fidelity matrix` section of the terminal summary."""
    if not state.records and not state.deselected:
        return
    terminal.write_sep("=", "xarch fidelity matrix")
    rows = matrix_rows(state)
    counted = len(rows[0]) - 4  # target, runner, libraries ... fidelity obtained
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        cells = [
            cell.rjust(width) if 3 <= i < 3 + counted and index else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths))
        ]
        terminal.write_line("  ".join(cells).rstrip(), bold=index == 0)
    for ok, line in state.canary_summaries().values():
        terminal.write_line(line, green=ok, red=not ok)
    interrupted = state.interrupted()
    if interrupted:
        terminal.write_line("")
        terminal.write_line("interrupted: started, never finished (not counted):", yellow=True)
        for record in interrupted:
            terminal.write_line(f"  {record.target}: {record.nodeid}")
    unproven = [r for r in state.records.values() if r.unproven]
    if unproven:
        terminal.write_line("")
        terminal.write_line("hardware-only tests not proven on real silicon:", yellow=True)
        for record in unproven:
            terminal.write_line(f"  {record.target}: {record.nodeid}")
    if state.deselected:
        terminal.write_line("")
        terminal.write_line("deselected: no selected target left by @pytest.mark.xarch:")
        for item in state.deselected:
            terminal.write_line(f"  {item.nodeid} ({item.reason})")
    below = state.below_min_fidelity()
    if below:
        terminal.write_line("")
        terminal.write_line(
            f"below --xarch-min-fidelity={state.min_fidelity}: {len(below)} test(s)", red=True
        )
        for record in below:
            terminal.write_line(f"  {record.nodeid}: {record.fidelity}", red=True)


def json_report(state: SessionState) -> dict[str, Any]:
    """The --xarch-report document: one record per test and one per target."""
    targets = []
    for target in state.targets:
        kind, description, fidelity = state.runner_summary(target)
        targets.append({
            "target": target.name,
            "runner": kind,
            "runner_description": description,
            "fidelity": str(fidelity),
            "cpu": target.emulation_cpu if kind in {"qemu", "binfmt"} else None,
            "counts": state.counts(target.name),
        })
    return {
        "version": 1,
        "min_fidelity": str(state.min_fidelity) if state.min_fidelity is not None else None,
        "targets": targets,
        "tests": [record.as_json() for record in state.records.values()],
        "deselected": [{"nodeid": d.nodeid, "reason": d.reason} for d in state.deselected],
        "below_min_fidelity": [r.nodeid for r in state.below_min_fidelity()],
        "interrupted": [r.nodeid for r in state.interrupted()],
    }


def write_json_report(state: SessionState, path: str) -> None:
    """Write the JSON report atomically (never a half-written file)."""
    write_atomic(Path(path), json.dumps(json_report(state), indent=2) + "\n")


# (category, letter, verbose word): a plain word, which pytest colours by outcome; a
# (word, markup) pair is printed raw in pytest 7's short summary.
StatusWord = tuple[str, str, str]


def runs_section(runs: list[RunResult], *, with_output: bool = True, tail: int = 2000) -> str:
    """The "xarch runs" section of a failed test: each run's outcome, where it ran, the line
    that runs it again by hand; with `with_output`, stderr's tail, what was cut and QEMU's
    unimplemented-syscall log."""
    blocks = []
    for number, run in enumerate(runs, 1):
        lines = [f"run {number}: {' '.join(run.args)} [{run.target}, {run.runner_description}]"
                 f": {run.outcome()}"]
        if run.reproduce:
            lines.append(f"  by hand: {run.reproduce}")
        if with_output:
            if run.truncation:
                lines.append(f"  [{run.truncation}]")
            if run.stderr.strip():
                text = run.stderr.rstrip()
                cut = f" (last {tail} characters)" if len(text) > tail else ""
                lines.append(f"  --- stderr{cut} ---\n{text[-tail:]}")
            if run.unimplemented:
                lines.append("  --- QEMU: unimplemented in emulation ---\n"
                             f"{run.unimplemented.rstrip()}")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def status_word(report: pytest.TestReport, fidelity: str) -> Optional[StatusWord]:
    """(category, letter, verbose word) with the fidelity, e.g. `PASSED [emulated]`."""
    if hasattr(report, "wasxfail"):
        return None
    if report.when == "call" and report.passed:
        return ("passed", ".", f"PASSED [{fidelity}]")
    if report.when == "call" and report.failed:
        return ("failed", "F", f"FAILED [{fidelity}]")
    return None
