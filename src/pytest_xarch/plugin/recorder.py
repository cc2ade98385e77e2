"""The recorder: what every xarch test obtained, the terminal matrix and the JSON report."""

from __future__ import annotations

from typing import Any, Optional

import pytest

from ..errors import XarchError
from ..report import write_json_report, write_terminal_summary
from ..runners import Runner, RunResult
from ..state import PROP_UNPROVEN, Deselection, SessionState, run_properties
from .keys import RUNS, UNPROVEN, is_worker, state_of
from .markers import item_target

WORKER_DESELECTED = "xarch_deselected"  # workeroutput key: a worker's deselections
WORKER_CANARIES = "xarch_canaries"  # workeroutput key: a worker's canary verdicts


def item_runs(item: pytest.Item) -> list[RunResult]:
    """The target runs the item made: its fixtures' runs, or a collected case's launch."""
    return list(getattr(item, "xarch_runs", None) or item.stash.get(RUNS, []))


def properties(item: pytest.Item) -> None:
    """Write the item's target, fidelity and runner into its user_properties."""
    target = item_target(item)
    if target is None:
        return
    state = state_of(item.config)
    try:
        runner: Optional[Runner] = state.runner(target)
    except XarchError:
        runner = None
    runs = item_runs(item)
    props = run_properties(target, runs, runner)
    if UNPROVEN in item.stash:
        props[PROP_UNPROVEN] = item.stash[UNPROVEN]
    item.user_properties[:] = [
        (name, value) for name, value in item.user_properties if name not in props
    ] + list(props.items())


class Recorder:
    """Bound to the session state: records reports, writes summary and JSON report."""

    def __init__(self, state: SessionState, config: pytest.Config) -> None:
        self.state = state
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        category = self.config.hook.pytest_report_teststatus(report=report, config=self.config)
        self.state.record(report.nodeid, str(category[0]) if category else "",
                          dict(report.user_properties), report.duration)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: take what a worker deselected, so the summary is complete."""
        output = getattr(node, "workeroutput", {})
        self.state.canary_verdicts.update(
            (name, (bool(ok), str(line)))
            for name, (ok, line) in output.get(WORKER_CANARIES, {}).items())
        known = {item.nodeid for item in self.state.deselected}
        for nodeid, reason in output.get(WORKER_DESELECTED, []):
            if nodeid not in known:
                self.state.deselected.append(Deselection(nodeid, reason))
                known.add(nodeid)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if is_worker(self.config):
            self.config.workeroutput[WORKER_DESELECTED] = [  # type: ignore[attr-defined]
                (item.nodeid, item.reason) for item in self.state.deselected
            ]
            self.config.workeroutput[WORKER_CANARIES] = (  # type: ignore[attr-defined]
                self.state.canary_summaries())
            return
        if self.state.below_min_fidelity() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.state.report_path:
            write_json_report(self.state, self.state.report_path)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        write_terminal_summary(self.state, terminalreporter)
