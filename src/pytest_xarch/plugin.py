"""pytest hooks and fixtures of pytest-xarch. Thin: the work lives in session, report, runners."""

from __future__ import annotations

import signal
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar, Union

import pytest

from . import containment
from .collect.items import cache_dir as cache_folder_of
from .config import (
    load_settings,
    parse_factor,
    parse_output_limit,
    parse_timeout,
    split_targets,
)
from .errors import ConfigError, XarchError
from .fidelity import Fidelity
from .report import header_line, status_word, write_json_report, write_terminal_summary
from .runners import Runner, RunResult, run
from .session import (
    PROP_FIDELITY,
    PROP_TARGET,
    PROP_UNPROVEN,
    Deselection,
    XarchSession,
    parse_hardware_only,
    parse_runner_overrides,
    parse_xarch_markers,
    run_properties,
    select_targets,
)
from .targets import Target

STATE = pytest.StashKey[XarchSession]()
RUNS = pytest.StashKey[list[RunResult]]()
UNPROVEN = pytest.StashKey[str]()
ARGNAME = "xarch_target"
WORKER_DESELECTED = "xarch_deselected"


class NoTarget:
    """Parameter of a test that no selected target is left for; such items are deselected."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return "no-target"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("xarch", "cross-architecture testing (pytest-xarch)")
    group.addoption(
        "--xarch", metavar="T1,T2", default=None,
        help="targets to run xarch tests for, e.g. aarch64,armv7 (default: configured "
        "targets, else this host's)",
    )
    group.addoption(
        "--xarch-runner", metavar="TARGET=RUNNER", action="append", default=[],
        help="override a target's runner, e.g. aarch64=ssh://pi@board or armv7=qemu",
    )
    group.addoption(
        "--xarch-min-fidelity", metavar="LEVEL", default=None,
        help="fail the session when a test was obtained below LEVEL "
        "(static, emulated, native, hardware)",
    )
    group.addoption(
        "--xarch-report", metavar="PATH", default=None,
        help="write a JSON report: one record per test and per target",
    )
    group.addoption(
        "--xarch-canary", action="store_true", default=None,
        help="run the self-test canary for each target first; a failing target's tests "
        "become errors",
    )
    parser.addini("xarch_targets", type="args", default=[], help="default --xarch targets")
    parser.addini("xarch_timeout", default="", help="seconds per run before the emulation factor")
    parser.addini("xarch_emulation_factor", default="", help="timeout multiplier under QEMU")
    parser.addini("xarch_min_fidelity", default="", help="default --xarch-min-fidelity")
    parser.addini("xarch_check_before_run", type="bool", default=True,
                  help="statically check every binary before running it")
    parser.addini("xarch_canary", type="bool", default=False, help="default --xarch-canary")
    parser.addini("xarch_containment", default="",
                  help="how runs are contained: auto (default), cgroup or process")
    parser.addini("xarch_output_limit", default="",
                  help="bytes of each run's stdout and stderr kept (head and tail)")
    # Test-executable collectors (collect/).
    group.addoption(
        "--xarch-isolate", action="store_true", default=False,
        help="run each case of a collected test binary in its own launch (default: one "
        "launch per binary and target)",
    )
    parser.addini("xarch_binary_patterns", type="args", default=[],
                  help="file name globs of test executables to collect (default: test_* *_test "
                  "*_tests *_unittest *_unittests *.test)")
    parser.addini("xarch_isolate", type="bool", default=False, help="default --xarch-isolate")
    parser.addini("xarch_case_timeout", default="",
                  help="seconds per case of a test binary, before the emulation factor")
    parser.addini("xarch_binary_timeout", default="",
                  help="seconds per launch of a test binary's batch, before the emulation factor")


def _ini_number(config: pytest.Config, name: str) -> Optional[float]:
    parse = parse_factor if name == "xarch_emulation_factor" else parse_timeout
    return parse(str(config.getini(name)), f"ini option {name}")


def _build_state(config: pytest.Config) -> XarchSession:
    settings = load_settings(Path(config.rootpath))
    ini_targets = config.getini("xarch_targets")
    if "targets" not in settings.provided and ini_targets:
        settings.targets = split_targets(",".join(ini_targets))
    for key, ini in (("timeout", "xarch_timeout"), ("emulation_factor", "xarch_emulation_factor")):
        value = _ini_number(config, ini)
        if key not in settings.provided and value is not None:
            setattr(settings, key, value)
    if "containment" not in settings.provided and config.getini("xarch_containment").strip():
        mode = config.getini("xarch_containment").strip()
        if mode not in containment.MODES:
            raise ConfigError(f"ini option xarch_containment={mode!r}: expected "
                              f"{', '.join(containment.MODES)}")
        settings.containment = mode
    if "output_limit" not in settings.provided and config.getini("xarch_output_limit").strip():
        settings.output_limit = parse_output_limit(config.getini("xarch_output_limit"),
                                                   "ini option xarch_output_limit")
    if "check_before_run" not in settings.provided:
        settings.check_before_run = bool(config.getini("xarch_check_before_run"))
    if config.getoption("xarch_canary") is not None:
        settings.canary = True
    elif "canary" not in settings.provided:
        settings.canary = bool(config.getini("xarch_canary"))
    level = (
        config.getoption("xarch_min_fidelity")
        or settings.min_fidelity
        or str(config.getini("xarch_min_fidelity")).strip()
        or None
    )
    try:
        min_fidelity = Fidelity.parse(level) if level else None
    except ValueError as error:
        raise pytest.UsageError(f"--xarch-min-fidelity: {error}") from None
    overrides = parse_runner_overrides(config.getoption("xarch_runner"))
    targets = select_targets(settings, config.getoption("xarch"), overrides)
    report = config.getoption("xarch_report")
    if report is not None:
        _check_report_path(Path(report))
    return XarchSession(
        settings=settings, targets=targets, min_fidelity=min_fidelity, report_path=report,
    )


def _check_report_path(path: Path) -> None:
    """--xarch-report must name a file we can create (checked before any test runs)."""
    if path.is_dir():
        raise ConfigError(f"--xarch-report {path} is a directory: give the path of a file, "
                          f"e.g. {path / 'xarch-report.json'}")
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), Path("/"))
    if not folder.is_dir():
        raise ConfigError(f"--xarch-report {path}: {folder} is not a directory")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "xarch(*targets, skip=[...]): run this test only for these of the selected targets "
        "(and never for those in skip)",
    )
    config.addinivalue_line(
        "markers",
        "hardware_only(reason=...): run only on real silicon (fidelity native or hardware); "
        "skipped with the reason under emulation",
    )
    config.addinivalue_line(
        "markers", "xarch_isolate: run this test-binary case in a launch of its own",
    )
    try:
        state = _build_state(config)
        containment.configure(state.settings.containment)
        containment.probe(state.settings.containment)  # "cgroup" asked for but unavailable
    except XarchError as error:
        raise pytest.UsageError(str(error)) from None
    if _is_worker(config):
        # A worker whose controller is gone (SIGTERM, SIGKILL) ends too, and with it,
        # through its guardian, every guest it was running.
        containment.die_with_parent(signal.SIGTERM)
    config.stash[STATE] = state
    containment.acquire()
    from .collect import options_for

    options_for(config, state)  # a bad collector setting is a usage error now, not at collection
    config.pluginmanager.register(XarchRecorder(state, config), "xarch-recorder")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Close SSH connections, then kill what runs left (the containment's close)."""
    if STATE in config.stash:
        containment.release()


def _state(config: pytest.Config) -> XarchSession:
    return config.stash[STATE]


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _argnames(spec: Union[str, Sequence[str]]) -> list[str]:
    if isinstance(spec, str):
        return [name.strip() for name in spec.split(",")]
    return list(spec)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if ARGNAME not in metafunc.fixturenames:
        return
    by_hand = any(
        marker.args and ARGNAME in _argnames(marker.args[0])
        for marker in metafunc.definition.iter_markers("parametrize")
    )
    if by_hand:
        return
    state = _state(metafunc.config)
    markers = [(m.args, m.kwargs) for m in metafunc.definition.iter_markers("xarch")]
    try:
        restriction = parse_xarch_markers(markers, state.settings)
    except ValueError as error:
        # Raised here it would be an internal error; collection_modifyitems reports it.
        state.usage_errors.append(f"{metafunc.definition.nodeid}: {error}")
        metafunc.parametrize(ARGNAME, [NoTarget(str(error))], ids=["bad-marker"], indirect=True)
        return
    allowed = [target for target in state.targets if restriction.allows(target)]
    if allowed:
        metafunc.parametrize(ARGNAME, allowed, ids=[t.name for t in allowed], indirect=True)
        return
    selected = ", ".join(t.name for t in state.targets)
    wanted = ", ".join(sorted(restriction.only or ())) or "any"
    reason = f"selected targets: {selected}; marker allows: {wanted}"
    if restriction.skip:
        reason += f"; skips: {', '.join(sorted(restriction.skip))}"
    metafunc.parametrize(ARGNAME, [NoTarget(reason)], ids=["no-target"], indirect=True)


def _item_target(item: pytest.Item) -> Optional[Target]:
    """The target of an xarch item: collected binaries say it, parametrized tests carry it."""
    own = getattr(item, "xarch_target", None)
    if isinstance(own, Target):
        return own
    callspec = getattr(item, "callspec", None)
    if callspec is None or ARGNAME not in callspec.params:
        return None
    value = callspec.params[ARGNAME]
    if isinstance(value, NoTarget):
        return None
    return _state(item.config).target(value)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Optional[pytest.Collector]:
    """Cross-built test executables (GoogleTest, Catch2, Go, Rust, CTest, plain)."""
    from .collect import collect_file

    return collect_file(file_path, parent, _state(parent.config))


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = _state(config)
    if state.usage_errors:
        raise pytest.UsageError(state.usage_errors[0])
    kept, removed = [], []
    for item in items:
        try:
            _item_target(item)  # a target named by hand (indirect parametrize) must exist
        except XarchError as error:
            raise pytest.UsageError(f"{item.nodeid}: {error}") from None
        _gate_hardware_only(item, state)
        callspec = getattr(item, "callspec", None)
        value = callspec.params.get(ARGNAME) if callspec is not None else None
        if isinstance(value, NoTarget):
            removed.append(item)
            state.deselected.append(Deselection(item.nodeid.replace("[no-target]", ""),
                                                value.reason))
        else:
            kept.append(item)
    if removed:
        config.hook.pytest_deselected(items=removed)
        items[:] = kept


def _gate_hardware_only(item: pytest.Item, state: XarchSession) -> None:
    """Skip (by marker, so the report points at the test) what needs silicon it lacks."""
    marker = item.get_closest_marker("hardware_only")
    if marker is None:
        return
    try:
        reason = parse_hardware_only(marker.args, marker.kwargs) or "hardware_only"
    except ValueError as error:
        raise pytest.UsageError(f"{item.nodeid}: {error}") from None
    target = _item_target(item)
    if target is None:
        return
    kind, description, fidelity = state.runner_summary(target)
    if not fidelity.is_silicon:
        item.stash[UNPROVEN] = reason
        how = f"runs under {description}" if kind != "unavailable" else "has no runner"
        item.add_marker(pytest.mark.skip(
            reason=f"{target.name} {how} here; needs real hardware: {reason}"
        ))


def _cache_dir(config: pytest.Config) -> Path:
    """Where built artifacts live: the pytest cache, shared by xdist workers."""
    return cache_folder_of(config) or Path(config.rootpath) / ".xarch-cache"


def pytest_runtest_setup(item: pytest.Item) -> None:
    target = _item_target(item)
    if target is None:
        return
    state = _state(item.config)
    if state.settings.canary:
        canary = state.canary(target, _cache_dir(item.config))
        if not canary.ok:
            pytest.fail(
                f"the canary failed for target {target.name}, so its tests cannot be "
                f"trusted:\n{canary.explain()}", pytrace=False,
            )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    """Write the test's target, fidelity and runner into its user_properties."""
    target = _item_target(item)
    if target is None:
        return
    state = _state(item.config)
    try:
        runner: Optional[Runner] = state.runner(target)
    except XarchError:
        runner = None
    runs: list[RunResult] = list(getattr(item, "xarch_runs", None) or item.stash.get(RUNS, []))
    props = run_properties(target, runs, runner)
    if UNPROVEN in item.stash:
        props[PROP_UNPROVEN] = item.stash[UNPROVEN]
    item.user_properties[:] = [
        (name, value) for name, value in item.user_properties if name not in props
    ] + list(props.items())


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


def pytest_report_header(config: pytest.Config) -> str:
    return header_line(_state(config))


class XarchRecorder:
    """Bound to the session state: records reports, writes summary and JSON report."""

    def __init__(self, state: XarchSession, config: pytest.Config) -> None:
        self.state = state
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        category = self.config.hook.pytest_report_teststatus(report=report, config=self.config)
        self.state.record(report.nodeid, str(category[0]) if category else "",
                          dict(report.user_properties), report.duration)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: take what a worker deselected, so the summary is complete."""
        known = {item.nodeid for item in self.state.deselected}
        for nodeid, reason in getattr(node, "workeroutput", {}).get(WORKER_DESELECTED, []):
            if nodeid not in known:
                self.state.deselected.append(Deselection(nodeid, reason))
                known.add(nodeid)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if _is_worker(self.config):
            self.config.workeroutput[WORKER_DESELECTED] = [  # type: ignore[attr-defined]
                (item.nodeid, item.reason) for item in self.state.deselected
            ]
            return
        if self.state.below_min_fidelity() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.state.report_path:
            write_json_report(self.state, self.state.report_path)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        write_terminal_summary(self.state, terminalreporter)


# -- fixtures ---------------------------------------------------------------------------


T = TypeVar("T")


def _or_fail(action: Callable[[], T]) -> T:
    """`action()`, or fail the test with the XarchError's message alone (no traceback)."""
    try:
        return action()
    except XarchError as error:
        message = str(error)
    pytest.fail(message, pytrace=False)


@pytest.fixture(scope="session")
def xarch_target(request: pytest.FixtureRequest) -> Target:
    """The target this test runs for (parametrized over --xarch)."""
    state = _state(request.config)
    param = getattr(request, "param", None)
    if param is None:
        return state.targets[0]
    try:
        return state.target(param)
    except XarchError as error:
        raise pytest.UsageError(str(error)) from None


@pytest.fixture
def xarch_runner(request: pytest.FixtureRequest, xarch_target: Target) -> Runner:
    """The runner that executes binaries for the current target (`.describe()` names it)."""
    state = _state(request.config)
    return _or_fail(lambda: state.runner(state.target(xarch_target)))


RunFunction = Callable[..., RunResult]


@pytest.fixture
def xarch_run(request: pytest.FixtureRequest, xarch_target: Target) -> Iterator[RunFunction]:
    """`xarch_run(program, *args, stdin=None, env=None, cwd=None, timeout=None)` -> RunResult.

    Runs a target program for the current target; the test's fidelity is the
    lowest fidelity of its runs.
    """
    state = _state(request.config)
    target = state.target(xarch_target)
    runs = request.node.stash.setdefault(RUNS, [])

    def run_for_target(
        program: Union[str, Path], *args: object, stdin: Union[str, bytes, None] = None,
        env: Optional[dict[str, str]] = None, cwd: Union[str, Path, None] = None,
        timeout: Optional[float] = None,
    ) -> RunResult:
        result = _or_fail(lambda: run(
            target, [str(program), *(arg if isinstance(arg, bytes) else str(arg) for arg in args)],
            stdin=stdin, env=env, cwd=str(cwd) if cwd is not None else None,
            timeout=timeout, runner=state.runner(target),
            emulation_factor=state.settings.emulation_factor,
            check=state.settings.check_before_run, output_limit=state.settings.output_limit,
        ))
        runs.append(result)
        return result

    yield run_for_target


BuildFunction = Callable[..., Path]


@pytest.fixture
def xarch_build(request: pytest.FixtureRequest, xarch_target: Target) -> BuildFunction:
    """`xarch_build(sources, *, output=None, cflags=(), ldflags=(), static=False, lang="c")`.

    Compiles for the current target (cached by content) and returns the artifact.
    Relative source paths are relative to the test file's directory.
    """
    from .toolchain import build

    state = _state(request.config)
    target = state.target(xarch_target)
    base = Path(request.path).parent

    def build_for_target(
        sources: Union[str, Path, Sequence[Union[str, Path]]], *,
        output: Union[str, Path, None] = None, cflags: Sequence[str] = (),
        ldflags: Sequence[str] = (), static: bool = False, lang: str = "c",
    ) -> Path:
        items = [sources] if isinstance(sources, (str, Path)) else list(sources)
        paths = [base / item for item in items]
        return _or_fail(lambda: build(
            target, paths, output=Path(output) if output else None, cflags=cflags,
            ldflags=ldflags, static=static, lang=lang, cache_dir=_cache_dir(request.config),
        ))

    return build_for_target


class StaticChecker:
    """`xarch_check(path)` -> findings for the current target; `.assert_clean(path)`."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def __call__(self, path: Union[str, Path]) -> list[Any]:
        from .checks import check_file

        return list(check_file(Path(path), self.target))

    def assert_clean(self, path: Union[str, Path]) -> None:
        """Fail the test with every error finding's message, if there is any."""
        from .checks import errors, format_finding

        found = errors(self(path))
        if found:
            lines = "\n".join(format_finding(finding) for finding in found)
            pytest.fail(f"{path} would not run on {self.target.name}:\n{lines}", pytrace=False)


@pytest.fixture
def xarch_check(request: pytest.FixtureRequest, xarch_target: Target) -> StaticChecker:
    """Static verification for the current target (fidelity `static`)."""
    return StaticChecker(_state(request.config).target(xarch_target))
