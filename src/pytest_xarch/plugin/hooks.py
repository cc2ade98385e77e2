"""The pytest hooks: thin, each hands its work to the module whose job it is."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any, Optional, Union

import pytest

from .. import containment
from ..errors import XarchError
from ..report import header_line, runs_section, status_word
from ..state import PROP_FIDELITY, PROP_TARGET, SessionState, parse_runner_overrides, select_targets
from . import feedback, html, markers, options
from .fixtures import build_cache_dir
from .keys import STATE, is_worker, state_of
from .recorder import Recorder, item_runs, properties


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def _build_state(config: pytest.Config) -> SessionState:
    settings = options.load(config)
    overrides = parse_runner_overrides(config.getoption("xarch_runner"))
    report = config.getoption("xarch_report")
    if report is not None:
        options.check_report_path(Path(report))
    # Any setting given (command line, environment, ini, file), a runner override, a report.
    active = bool(settings.where or settings.source or overrides or report)
    return SessionState(settings=settings, targets=select_targets(settings, overrides),
                        report_path=report, active=active)


def pytest_configure(config: pytest.Config) -> None:
    markers.register(config)
    try:
        state = _build_state(config)
        containment.configure(state.settings.containment)
        containment.probe(state.settings.containment)  # "cgroup" asked for but unavailable
    except XarchError as error:
        raise pytest.UsageError(str(error)) from None
    if is_worker(config):
        # A worker whose controller is gone (SIGTERM, SIGKILL) ends too, and with it,
        # through its guardian, every guest it was running.
        containment.die_with_parent(signal.SIGTERM)
    config.stash[STATE] = state
    containment.acquire()
    config.pluginmanager.register(Recorder(state, config), "xarch-recorder")
    feedback.register(config)
    if state.active:
        html.register(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Close SSH connections, then kill what runs left (the containment's close)."""
    if STATE in config.stash:
        containment.release()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    markers.parametrize(metafunc)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Optional[pytest.Collector]:
    """Cross-built test executables (GoogleTest, Catch2, Go, Rust, CTest, Unity, plain),
    when the plugin is active (a project that asks for nothing keeps its collection)."""
    state = state_of(parent.config)
    if not state.active:
        return None
    from ..collect import collect_file

    return collect_file(file_path, parent, state)


def pytest_report_collectionfinish(config: pytest.Config, items: list[pytest.Item]
                                   ) -> list[str]:
    """When nothing was collected, the executables and build trees passed over, and why;
    when dormant, the header after all if collected tests use xarch's fixtures or markers."""
    from ..collect import passed_over_lines

    state = state_of(config)
    if not state.active:
        uses = any(markers.item_target(item) is not None for item in items)
        return header_line(state).splitlines() if uses else []
    return passed_over_lines(state) if not items else []


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Optional[Any]:
    """xdist: keep each test binary's cases on one worker (see `scheduling`)."""
    if not state_of(config).active:
        return None  # no binaries collected: xdist's own scheduling
    from .scheduling import make_scheduler

    return make_scheduler(config, log)


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    removed = markers.sort_out(items, config)
    if removed:
        config.hook.pytest_deselected(items=removed)
        gone = {id(item) for item in removed}
        items[:] = [item for item in items if id(item) not in gone]


def pytest_runtest_setup(item: pytest.Item) -> None:
    target = markers.item_target(item)
    if target is None:
        return
    state = state_of(item.config)
    if state.settings.canary:
        canary = state.canary(target, build_cache_dir(item.config))
        if not canary.ok:
            pytest.fail(
                f"the canary failed for target {target.name}, so its tests cannot be "
                f"trusted:\n{canary.explain()}", pytrace=False,
            )


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Write the test's target, fidelity and runner into its user_properties; a failed
    test's report gets an "xarch runs" section: how each of its target runs went, and
    the line that runs it again by hand."""
    properties(item)
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call"):
        # A collected case's own message and stderr section say the rest already.
        text = runs_section(item_runs(item), with_output=not hasattr(item, "xarch_runs"))
        if text:
            report.sections.append(("xarch runs", text))


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(
    report: Union[pytest.TestReport, pytest.CollectReport], config: pytest.Config
) -> Optional[tuple[str, str, Any]]:
    if not isinstance(report, pytest.TestReport):  # collection reports carry no properties
        return None
    props = dict(report.user_properties)
    if PROP_TARGET not in props:
        return None
    return status_word(report, str(props.get(PROP_FIDELITY, "static")))


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = state_of(config)
    return header_line(state).splitlines() if state.active else []
