"""The state of one xarch test session, free of pytest: targets, runners, records.

The plugin keeps one `SessionState` in `config.stash`. It knows the selected
targets (after the settings' precedence), the runner of each target, and what
every test obtained.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from .errors import ConfigError, XarchError
from .fidelity import Fidelity
from .runners import Runner, RunResult, runner_for
from .settings import RUNNER_EXPECTED, Settings, is_runner
from .targets import Target, host_target

# user_properties written on every xarch test report.
PROP_TARGET = "xarch_target"
PROP_FIDELITY = "xarch_fidelity"
PROP_RUNNER = "xarch_runner"
PROP_CPU = "xarch_cpu"
PROP_QEMU = "xarch_qemu"
PROP_UNPROVEN = "xarch_unproven"  # a hardware_only test skipped for lack of silicon


def parse_runner_overrides(values: Iterable[str]) -> dict[str, str]:
    """`["aarch64=ssh://pi@board"]` -> `{"aarch64": "ssh://pi@board"}`."""
    overrides: dict[str, str] = {}
    for value in values:
        name, sep, url = value.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise ConfigError(
                f"--xarch-runner {value!r}: expected TARGET=RUNNER, e.g. "
                "aarch64=ssh://user@host or armv7=qemu"
            )
        if not is_runner(url.strip()):
            raise ConfigError(f"--xarch-runner {value!r}: expected TARGET=RUNNER with RUNNER "
                              f"{RUNNER_EXPECTED}")
        overrides[name.strip()] = url.strip()
    return overrides


def select_targets(settings: Settings, runner_overrides: Mapping[str, str] = {}) -> list[Target]:
    """The session's targets in the order given (the host's when none is), duplicates dropped."""
    names = list(settings.targets) or [host_target().name]
    overrides = {settings.resolve(name).name: url for name, url in runner_overrides.items()}
    selected: dict[str, Target] = {}
    for name in names:
        target = settings.resolve(name)
        if target.name in overrides:
            target = dataclasses.replace(target, runner=overrides[target.name])
        selected.setdefault(target.name, target)
    return list(selected.values())


# pytest's result categories, worst first: a test's outcome is the worst of its reports'.
CATEGORY_ORDER = ("failed", "error", "xpassed", "xfailed", "skipped", "passed")
INTERRUPTED = "interrupted"  # no report said how it ended (Ctrl-C, a crash nobody reported)


@dataclass
class TestRecord:
    """What one test obtained for one target, as the controller saw it."""

    nodeid: str
    target: str
    outcome: str = INTERRUPTED  # the worst of `categories`, until one arrives
    fidelity: Fidelity = Fidelity.STATIC
    runner: str = ""
    cpu: Optional[str] = None
    qemu_version: Optional[str] = None
    duration: float = 0.0
    unproven: Optional[str] = None  # why a hardware_only test was not run
    categories: list[str] = field(default_factory=list)  # pytest's, one per counted report

    def add(self, category: str) -> None:
        """Count one report that pytest counts under `category` (passed, error, xfailed ...)."""
        self.categories.append(category)
        self.outcome = min(self.categories, key=_rank)

    def as_json(self) -> dict[str, Any]:
        """The JSON report's record of this test."""
        data = dataclasses.asdict(self)
        data["fidelity"] = str(self.fidelity)
        return data


def _rank(category: str) -> int:
    return CATEGORY_ORDER.index(category) if category in CATEGORY_ORDER else len(CATEGORY_ORDER)


@dataclass
class Deselection:
    """A test no selected target was left for, and why."""

    nodeid: str
    reason: str


@dataclass
class SessionState:
    """The selected targets, their runners, and the records of the tests run."""

    settings: Settings
    targets: list[Target]
    report_path: Optional[str] = None
    # Asked for: any setting given (--xarch, XARCH_TARGETS, an xarch_* ini option, ...), a
    # pytest-xarch config file, a runner override or a report. Otherwise the plugin is
    # dormant: no header, no collection of test executables, xdist's own scheduling;
    # fixtures and markers work (for the host's target).
    active: bool = True
    records: dict[str, TestRecord] = field(default_factory=dict)
    deselected: list[Deselection] = field(default_factory=list)
    usage_errors: list[str] = field(default_factory=list)
    passed_over: list[tuple[str, str]] = field(default_factory=list)  # (path, why), collection
    # target -> (ok, summary line) of the canaries xdist workers ran
    canary_verdicts: dict[str, tuple[bool, str]] = field(default_factory=dict)
    _runners: dict[str, Runner] = field(default_factory=dict)
    _canaries: dict[str, Any] = field(default_factory=dict)
    _runner_errors: dict[str, XarchError] = field(default_factory=dict)

    def target(self, value: Target | str) -> Target:
        """A selected target by name, or any target resolved through the settings."""
        name = value.name if isinstance(value, Target) else value
        for target in self.targets:
            if target.name == name:
                return target
        return value if isinstance(value, Target) else self.settings.resolve(value)

    def runner(self, target: Target) -> Runner:
        """The runner of `target` (one per target per session; a failure is kept too)."""
        if target.name in self._runner_errors:
            raise self._runner_errors[target.name]
        if target.name not in self._runners:
            try:
                self._runners[target.name] = runner_for(target)
            except XarchError as error:
                self._runner_errors[target.name] = error
                raise
        return self._runners[target.name]

    def canary(self, target: Target, cache_dir: Path) -> Any:
        """The canary's result for `target`, run once per session (per xdist worker)."""
        if target.name not in self._canaries:
            from .canary import run_canary

            try:
                runner: Optional[Runner] = self.runner(target)
            except XarchError:
                runner = None  # run_canary reports the missing runner as a failed canary
            self._canaries[target.name] = run_canary(target, cache_dir=cache_dir, runner=runner)
        return self._canaries[target.name]

    def canary_summaries(self) -> dict[str, tuple[bool, str]]:
        """Each target's canary verdict (ok, one line): this process's and its workers'."""
        verdicts = {**self.canary_verdicts, **{name: (result.ok, result.summary())
                                               for name, result in self._canaries.items()}}
        return dict(sorted(verdicts.items()))

    def runner_summary(self, target: Target, *, engine_only: bool = False
                       ) -> tuple[str, str, Fidelity]:
        """(kind, description, fidelity) of the target's runner, or why there is none.

        `engine_only`: what executes the programs, without the library root.
        """
        try:
            runner = self.runner(target)
            description = runner.engine() if engine_only else runner.describe()
        except XarchError as error:
            return ("unavailable", str(error), Fidelity.STATIC)
        return (runner.kind, description, runner.fidelity)

    def record(self, nodeid: str, category: str, props: Mapping[str, Any],
               duration: float) -> None:
        """Fold one phase report of an xarch test into its record.

        `category` is what pytest counts the report under ("" for a passing setup or
        teardown, which pytest does not count). Reports without xarch properties
        (a crashed xdist worker's) count for a test already recorded.
        """
        record = self.records.get(nodeid)
        if record is None:
            if PROP_TARGET not in props:
                return
            record = self.records[nodeid] = TestRecord(nodeid, str(props[PROP_TARGET]))
        record.duration += duration
        if PROP_FIDELITY in props:
            record.fidelity = Fidelity.parse(str(props[PROP_FIDELITY]))
        record.runner = str(props.get(PROP_RUNNER, record.runner))
        record.cpu = props.get(PROP_CPU, record.cpu)
        record.qemu_version = props.get(PROP_QEMU, record.qemu_version)
        record.unproven = props.get(PROP_UNPROVEN, record.unproven)
        if category:
            record.add(category)

    @property
    def min_fidelity(self) -> Optional[Fidelity]:
        """The level below which the session fails (--xarch-min-fidelity), if any."""
        return self.settings.min_fidelity

    def below_min_fidelity(self) -> list[TestRecord]:
        """Tests obtained below --xarch-min-fidelity (hardware_only skips included)."""
        if self.min_fidelity is None:
            return []
        return [
            record for record in self.records.values()
            if record.fidelity < self.min_fidelity
            and (record.outcome in {"passed", "failed"} or record.unproven)
        ]

    def counts(self, target: str) -> dict[str, int]:
        """pytest's counts of `target`'s tests (per report, as its summary line counts)."""
        counts = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
        for record in self.records.values():
            if record.target == target:
                for category in record.categories:
                    counts[category] = counts.get(category, 0) + 1
        return counts

    def interrupted(self) -> list[TestRecord]:
        """Tests that started and never reported how they ended."""
        return [record for record in self.records.values() if record.outcome == INTERRUPTED]


def run_properties(target: Target, runs: Sequence[RunResult], runner: Optional[Runner]) -> dict[
    str, str
]:
    """The user_properties of a test that made `runs` for `target`."""
    fidelity = min((run.fidelity for run in runs), default=Fidelity.STATIC)
    props = {PROP_TARGET: target.name, PROP_FIDELITY: str(fidelity)}
    lowest = next((run for run in runs if run.fidelity == fidelity), None)
    if lowest is not None:
        props[PROP_RUNNER] = lowest.runner
        if lowest.cpu:
            props[PROP_CPU] = lowest.cpu
        if lowest.qemu_version:
            props[PROP_QEMU] = lowest.qemu_version
    elif runner is not None:
        props[PROP_RUNNER] = runner.kind
    return props

