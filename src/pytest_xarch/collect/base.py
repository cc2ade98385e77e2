"""The interface every test-framework module implements, and the results it produces.

A framework knows three things about its binaries: the arguments that list the
cases, the arguments that run a chosen set of cases in one launch, and how to
read that launch's output back into one result per case. It never starts a
process itself: the caller launches the binary through the target's runner
(`Launch`) and hands the `RunResult` back.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar, Optional

from ..runners import RunResult
from .progress import CaseProgress

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
# Failed, and the framework expected it to (counted as a pass there): pytest's xfailed.
XFAILED = "xfailed"
# The case never ran because the fixture around it failed (GoogleTest's SetUpTestSuite):
# pytest's error in setup.
ERROR = "error"

# Runs the binary with these arguments (and a time limit) under the target's runner.
Launch = Callable[[Sequence[str], Optional[float]], RunResult]


@dataclass
class CaseResult:
    """The outcome of one test case, as the framework reported it."""

    outcome: str  # passed, failed, skipped, xfailed or error
    message: str = ""  # failure or skip text, with file:line where the framework gives it
    output: str = ""  # what the case printed
    duration: Optional[float] = None  # seconds, as the framework measured it


@dataclass
class BatchReport:
    """What one launch told about its cases.

    `results` holds every case that finished. `running` is the case that had
    started but not finished when the output ended (the one that crashed, hung
    or exited), when the output says so.
    """

    results: dict[str, CaseResult] = field(default_factory=dict)
    running: Optional[str] = None
    running_output: str = ""  # what the running case printed before the end
    # Each case's own stderr, where the launch could tell (its progress, or a single case);
    # a case missing here has only the launch's stderr.
    stderr: dict[str, str] = field(default_factory=dict)


class ListingError(Exception):
    """The binary's case listing could not be read (the message says why)."""


class Framework(abc.ABC):
    """One test framework: how to list, select and read the cases of its binaries."""

    name: ClassVar[str]
    exit_skip: ClassVar[Optional[int]] = None  # a whole-binary exit status meaning "skipped"
    # False: every launch runs every case (Unity), so a case without a result is not retried,
    # and the listing launch, a full run, gives the first results (no scratch folder used).
    selective: ClassVar[bool] = True
    # True: the listed cases are run to find more (Go's subtests; see `expand`).
    discovers: bool = False

    def list_cases(self, launch: Launch) -> list[str]:
        """The case names of the binary, in the framework's order (one launch, usually)."""
        result = launch(self.list_args(), None)
        if not result.ok:
            raise ListingError(
                f"listing the cases with {' '.join(self.list_args())} failed: "
                f"{result.outcome()}\n{result.explain()}"
            )
        return self.parse_list(result.stdout)

    def progress(self, scratch: Path, case_timeout: float) -> Optional[CaseProgress]:
        """What follows the running case of a batch launch (None: nothing can)."""
        return None

    def settled(self, case: str) -> Optional[CaseResult]:
        """The result of `case` known without running it (GoogleTest's disabled tests)."""
        return None

    def expand(self, listed: Sequence[str], ran: Sequence[str]) -> list[str]:
        """The cases, given the listed ones and every case their run reported."""
        return list(listed)

    @abc.abstractmethod
    def list_args(self) -> list[str]:
        """Arguments that make the binary print its cases."""

    @abc.abstractmethod
    def parse_list(self, stdout: str) -> list[str]:
        """The case names in the listing output."""

    @abc.abstractmethod
    def run_args(self, cases: Sequence[str], scratch: Path) -> list[str]:
        """Arguments that run exactly `cases` in one launch (`scratch`: a private directory)."""

    @abc.abstractmethod
    def parse_run(self, result: RunResult, cases: Sequence[str], scratch: Path) -> BatchReport:
        """Per-case results of the launch made with `run_args(cases, scratch)`."""


class CaseKeys:
    """Distinct keys for names met one by one: a repeated name (doctest allows them) becomes
    `name#2`, `name#3`, ... (skipping keys that are names themselves), the same way
    every time for the same sequence."""

    def __init__(self, names: Sequence[str] = ()) -> None:
        self._taken = set(names)
        self._seen: dict[str, int] = {}

    def key(self, name: str) -> str:
        """The key of this occurrence of `name`."""
        self._seen[name] = count = self._seen.get(name, 0) + 1
        if count == 1:
            self._taken.add(name)
            return name
        while f"{name}#{count}" in self._taken:
            count += 1
        key = f"{name}#{count}"
        self._taken.add(key)
        return key


def unique_names(names: Sequence[str]) -> list[str]:
    """`names` made distinct in their order (see `CaseKeys`)."""
    keys = CaseKeys(names)
    return [keys.key(name) for name in names]


def output_tail(text: str, limit: int = 4000) -> str:
    """The end of a long output, marked as cut."""
    return text if len(text) <= limit else "[...]\n" + text[-limit:]
