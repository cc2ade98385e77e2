"""Session records count what pytest counts; an unfinished test is never a pass."""

from __future__ import annotations

from pytest_xarch.settings import Settings
from pytest_xarch.state import PROP_FIDELITY, PROP_TARGET, SessionState
from pytest_xarch.targets import resolve_target

PROPS = {PROP_TARGET: "aarch64", PROP_FIDELITY: "emulated"}


def _session() -> SessionState:
    return SessionState(settings=Settings(), targets=[resolve_target("aarch64")])


def test_a_test_that_only_got_through_setup_is_interrupted_not_passed() -> None:
    state = _session()
    state.record("t::a", "", PROPS, 0.1)  # setup passed; Ctrl-C in the call
    [record] = state.records.values()
    assert record.outcome == "interrupted"
    assert state.counts("aarch64") == {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
    assert state.interrupted() == [record]


def test_a_crash_report_without_properties_counts_for_the_recorded_test() -> None:
    state = _session()
    state.record("t::a", "", PROPS, 0.1)
    state.record("t::a", "failed", {}, 0.0)  # xdist: "worker 'gw0' crashed while running"
    state.record("t::unrelated", "passed", {}, 0.0)  # not an xarch test: ignored
    assert state.records["t::a"].outcome == "failed"
    assert list(state.records) == ["t::a"]
    assert state.counts("aarch64")["failed"] == 1


def test_counts_follow_pytest_per_report() -> None:
    state = _session()
    for nodeid, phases in {
        "t::pass-then-teardown-error": ["", "passed", "error"],
        "t::setup-error": ["error"],
        "t::xfail": ["", "xfailed", ""],
        "t::skip": ["skipped"],
    }.items():
        for category in phases:
            state.record(nodeid, category, PROPS, 0.0)
    assert state.counts("aarch64") == {
        "passed": 1, "failed": 0, "skipped": 1, "error": 2, "xfailed": 1}
    outcomes = {nodeid: record.outcome for nodeid, record in state.records.items()}
    assert outcomes == {"t::pass-then-teardown-error": "error", "t::setup-error": "error",
                        "t::xfail": "xfailed", "t::skip": "skipped"}


def test_merged_verdicts_follow_the_best_pass_and_any_failure() -> None:
    from pytest_xarch.fidelity import Fidelity
    from pytest_xarch.merging import Evidence, Verdict

    def verdict(*evidence: tuple[str, str]) -> Verdict:
        return Verdict("t.py::t[aarch64]", "aarch64", [
            Evidence(f"r{index}.json", outcome, Fidelity.parse(level), "qemu")
            for index, (outcome, level) in enumerate(evidence)])

    assert verdict(("passed", "emulated"), ("passed", "hardware")).status == "proven on silicon"
    assert verdict(("passed", "emulated")).status == "never proven on silicon"
    assert verdict(("passed", "static")).status == "only checked, never run"
    assert verdict(("skipped", "static"), ("interrupted", "emulated")).status == "no result"
    failing = verdict(("passed", "native"), ("error", "hardware"))
    assert (failing.status, failing.best_pass) == ("failing", Fidelity.NATIVE)
