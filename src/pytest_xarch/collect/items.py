"""pytest nodes for test executables: one file collector, one item per case and target.

Item ids are `<binary>::<case>[<target>]`. The first item of a binary and
target that runs launches the binary once for every case of that group this
process is going to run (the rest of the session's items, or under xdist the
indices queued on this worker); the others find their result waiting.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import pytest

from ..errors import XarchError
from ..runners import RunResult
from ..targets import Target
from .base import ERROR, FAILED, SKIPPED, XFAILED, Framework, ListingError, unique_names
from .batch import BinaryRunner, CaseOutcome
from .listing import cached_listing, listing_key
from .options import CollectOptions

if TYPE_CHECKING:
    from ..elf import ElfFacts
    from ..state import SessionState

ISOLATE_MARKER = "xarch_isolate"


class CaseFailure(Exception):
    """A case failed; the message is the framework's (with file:line), shown without traceback."""


class PlainFailureItem(pytest.Item):
    """An item whose CaseFailure is reported as its message alone, without a traceback."""

    @classmethod
    def from_parent(cls, parent: Any, **kwargs: Any) -> Any:
        # The id is given as text, as pytest reads ids back from its cache (`--lf`): pytest
        # 9.2 parses a stored id's "[aarch64]" into params, and an id built from the name
        # alone would keep it in the name, so the two would never match.
        nodeid = f"{parent.nodeid}::{kwargs['name']}"
        return super().from_parent(parent, nodeid=nodeid, **kwargs)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> Any:
        if isinstance(excinfo.value, CaseFailure):
            return self.failure_text(excinfo.value)
        return super().repr_failure(excinfo)

    def _repr_failure_py(self, excinfo: pytest.ExceptionInfo[BaseException],
                         style: Any = None) -> Any:
        # pytest renders set-up errors (a failed SetUpTestSuite) through this one.
        if isinstance(excinfo.value, CaseFailure):
            return self.failure_text(excinfo.value)
        return super()._repr_failure_py(excinfo, style)

    def failure_text(self, failure: CaseFailure) -> str:
        """What the report shows for `failure`."""
        return str(failure)


def cache_dir(config: pytest.Config) -> Optional[Path]:
    """The xarch folder of the pytest cache (shared by xdist workers), if caching is on."""
    cache = getattr(config, "cache", None)
    return Path(cache.mkdir("xarch")) if cache is not None else None


class CaseGroup:
    """The cases of one binary for one target, and the outcomes of the launches so far."""

    def __init__(self, runner: BinaryRunner, isolate: bool) -> None:
        self.runner = runner
        self.isolate = isolate
        self.outcomes: dict[str, CaseOutcome] = {}

    def outcome_for(self, item: CaseItem) -> CaseOutcome:
        """The outcome of `item`'s case, launching the binary when it is not known yet."""
        if item.case not in self.outcomes:
            if self.isolate or item.get_closest_marker(ISOLATE_MARKER) is not None:
                self.outcomes.update(self.runner.run_cases([item.case], isolate=True))
            else:
                cases = [item.case] + [
                    other.case for other in scheduled_items(item)
                    if isinstance(other, CaseItem) and other.group is self
                    and other.case not in self.outcomes
                    and other.get_closest_marker(ISOLATE_MARKER) is None
                ]
                self.outcomes.update(self.runner.run_cases(cases))
        return self.outcomes.pop(item.case)  # popped: a rerun of the item launches again


def scheduled_items(item: pytest.Item) -> Sequence[pytest.Item]:
    """Items this process will run after `item`: the xdist worker's queue, else the session's."""
    items = item.session.items
    for plugin in item.config.pluginmanager.get_plugins():
        queue = getattr(plugin, "torun", None)
        if queue is None or not hasattr(queue, "lock") or not hasattr(plugin, "nextitem_index"):
            continue
        with queue.lock() as pending:
            indices = [index for index in pending if isinstance(index, int)]
        upcoming = plugin.nextitem_index
        if isinstance(upcoming, int):
            indices.insert(0, upcoming)
        return [items[index] for index in indices if 0 <= index < len(items)]
    try:
        return items[items.index(item) + 1:]
    except ValueError:
        return []


class BinaryFile(pytest.File):
    """A test executable, collected for every selected target it is built for."""

    def __init__(self, *, kind: str, targets: list[Target], state: SessionState,
                 options: CollectOptions, facts: ElfFacts, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self.targets = targets
        self.state = state
        self.options = options
        self.facts = facts

    def collect(self) -> Iterator[pytest.Item]:
        self._check()
        from .identify import framework_for

        framework = framework_for(self.kind, self.path.name, self.options)
        for target in self.targets:
            runner = self._runner(target, framework)
            yield from case_items(self, runner, self.facts.digest,
                                  isolate=self.options.isolated(self.path))

    def _check(self) -> None:
        if not self.state.settings.check_before_run:
            return
        from ..checks import check_file, errors, format_finding

        problems = []
        for target in self.targets:
            try:
                root = self.state.runner(target).root
            except XarchError:
                root = None  # the run itself names the problem
            library_path = target.env.get("LD_LIBRARY_PATH", "")
            found = errors(check_file(self.path, target, root=root,
                                      extra_library_dirs=[p for p in library_path.split(":") if p]))
            problems += [f"[{target.name}] {format_finding(finding)}" for finding in found]
        if problems:
            raise self.CollectError(
                f"{self.path} ({self.kind} test binary) fails static checks; it would not run:\n"
                + "\n".join(problems)
            )

    def _runner(self, target: Target, framework: Framework) -> BinaryRunner:
        try:
            runner = self.state.runner(target)
        except XarchError as error:
            raise self.CollectError(str(error)) from None
        return BinaryRunner(
            self.path, framework, target, runner, cwd=self.options.workdir(self.path),
            case_timeout=self.options.case_timeout, binary_timeout=self.options.binary_timeout,
            emulation_factor=self.state.settings.emulation_factor,
        )

def case_items(parent: pytest.Collector, runner: BinaryRunner, digest: str, *, isolate: bool,
               prefix: str = "") -> Iterator[pytest.Item]:
    """The items of `runner`'s binary for its target, named `<prefix><case>[<target>]`
    (`digest`: the binary's content, which keys its cached listing), or the item that
    says why it cannot list its cases."""
    target = runner.target
    arguments = "\0".join(runner.args)
    key = listing_key(f"{digest}\0{arguments}" if arguments else digest, target.name,
                      runner.framework.name, runner.runner.describe())
    try:
        names = cached_listing(cache_dir(parent.config), key, runner.list_cases)
    except (ListingError, XarchError) as error:
        yield ListingFailure.from_parent(
            parent, name=f"{prefix}list-cases[{target.name}]", target=target, error=str(error),
            label=f"{prefix}list-cases", program=runner.binary)
        return
    cases = unique_names(names)  # doctest allows two cases of one name
    runner.names = {case: name for case, name in zip(cases, names) if case != name}
    runner.cases = cases
    group = CaseGroup(runner, isolate)
    for case in cases:
        yield CaseItem.from_parent(parent, name=f"{prefix}{case}[{target.name}]", case=case,
                                   target=target, group=group, label=prefix + case)


class CaseItem(PlainFailureItem):
    """One case of a test binary for one target."""

    def __init__(self, *, case: str, target: Target, group: CaseGroup, label: str,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.label = label  # the name without the target
        self.group = group
        self.xarch_target = target
        self.xarch_runs: list[RunResult] = []
        self.case_outcome: Optional[CaseOutcome] = None

    def setup(self) -> None:
        """Launch (or find) the case's result; a failed suite set-up is this item's error."""
        outcome = self.case_outcome = self.group.outcome_for(self)
        self.xarch_runs = [outcome.run] if outcome.run else []
        if outcome.result.outcome == ERROR:
            raise CaseFailure(outcome.result.message or f"{self.case}: set-up failed")

    def runtest(self) -> None:
        outcome = self.case_outcome
        assert outcome is not None, "setup() finds the outcome"
        result = outcome.result
        if result.output.strip() and result.output.strip() != result.message.strip():
            self.add_report_section("call", "output", result.output)
        title, stderr = outcome.stderr_section()
        if result.outcome in (FAILED, XFAILED) and stderr.strip():
            self.add_report_section("call", title, stderr)
        if result.outcome == SKIPPED:
            pytest.skip(result.message or "skipped")
        if result.outcome == XFAILED:
            pytest.xfail(result.message or "failed, as the framework expected")
        if result.outcome == FAILED:
            raise CaseFailure(result.message or f"{self.case} failed")

    def failure_text(self, failure: CaseFailure) -> str:
        launch = self.xarch_runs[0] if self.xarch_runs else None
        where = f"\n[{launch.runner_description}]" if launch else ""
        return f"{failure}{where}"

    def reportinfo(self) -> tuple[Path, Optional[int], str]:
        # Not a suffix of the node id, so that pytest shows the id as is ("." kept).
        return self.path, None, f"{self.path.name}::{self.label} [{self.xarch_target.name}]"


class ListingFailure(PlainFailureItem):
    """The binary could not list its cases for this target (it crashed at start-up, ...)."""

    def __init__(self, *, target: Target, error: str, label: str, program: Path,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label = label
        self.program = program
        self.xarch_target = target
        self.xarch_runs: list[RunResult] = []
        self.error = error

    def runtest(self) -> None:
        raise CaseFailure(f"{self.program}: cannot list its test cases for target "
                          f"'{self.xarch_target.name}':\n{self.error}")

    def reportinfo(self) -> tuple[Path, Optional[int], str]:
        return self.path, None, f"{self.path.name}::{self.label} [{self.xarch_target.name}]"
