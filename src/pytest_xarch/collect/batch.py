"""Running the cases of one binary for one target: batches, crash recovery, timeouts.

`BinaryRunner.run_cases(cases)` launches the binary once for all of them. When
a launch ends before every case reported (a crash, a timeout, an exit in the
middle), the case that was running gets the blame (signal name, timeout) and
the cases still without a result run again in a fresh launch; when the output
cannot tell which case was running, the rest run one launch each. Every
iteration settles at least one case, so a binary of N cases costs at most N+1
launches, and one crash costs one case, not the binary.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..feedback import slow
from ..runners import PreCheck, Runner, RunResult, run
from ..runners import default_timeout as target_timeout
from ..targets import Target
from .base import ERROR, FAILED, BatchReport, CaseResult, Framework, output_tail
from .progress import CaseProgress

MAX_ARGUMENT_BYTES = 96 * 1024  # a batch's case names per launch (Linux: 128 KiB per argument)


@dataclass
class CaseOutcome:
    """The final result of one case and the launch that produced it."""

    result: CaseResult
    run: Optional[RunResult]  # None: settled without a launch (a disabled test)
    stopped: bool = False  # the case was running when its launch crashed or timed out
    stderr: Optional[str] = None  # the case's own stderr; None: not told apart from the launch's

    def stderr_section(self) -> tuple[str, str]:
        """(title, text) of the stderr to show with the case: its own, else the launch's."""
        if self.stderr is not None:
            return "stderr", self.stderr
        return "stderr of the whole launch", self.run.stderr if self.run else ""


class BinaryRunner:
    """One test binary for one target, run through the target's runner."""

    def __init__(
        self,
        binary: Path,
        framework: Framework,
        target: Target,
        runner: Runner,
        *,
        cwd: Optional[Path] = None,
        env: Optional[Mapping[str, str]] = None,
        case_timeout: Optional[float] = None,
        binary_timeout: Optional[float] = None,
        emulation_factor: float = 5.0,
        args: Sequence[str] = (),
        precheck: Optional[PreCheck] = None,
    ) -> None:
        self.binary = binary
        self.args = list(args)  # before the framework's (a CTest test's own arguments)
        self.precheck = precheck
        self.framework = framework
        self.target = target
        self.runner = runner
        self.cwd = cwd
        self.env = dict(env or {})
        self.case_timeout = target_timeout(target, runner, emulation_factor, case_timeout)
        self.binary_timeout = (
            target_timeout(target, runner, emulation_factor, binary_timeout)
            if binary_timeout else None
        )
        self.emulation_factor = emulation_factor
        self.launches = 0
        self.names: dict[str, str] = {}  # case id -> the framework's name, where they differ
        self.cases: list[str] = []  # every case id, in the listing's order
        # Results the listing obtained by running cases (Unity, Go subtests): each serves once.
        self.known: dict[str, CaseOutcome] = {}

    def launch(self, args: Sequence[str], timeout: Optional[float],
               watch: Optional[CaseProgress] = None) -> RunResult:
        """Run the binary once with `args` (checked by `precheck`, when given, else at
        collection); `watch` stops it when the running case outlives the case timeout."""
        self.launches += 1
        result = run(
            self.target, [str(self.binary), *self.args, *args], runner=self.runner,
            cwd=str(self.cwd) if self.cwd else None, env=self.env,
            timeout=timeout or self.case_timeout, emulation_factor=self.emulation_factor,
            watch=watch, precheck=self.precheck,
        )
        if result.stopped_early:
            result.timeout = self.case_timeout  # the running case's own limit, not the batch's
        return result

    def list_cases(self) -> list[str]:
        """The binary's cases, as its framework lists them: one launch, usually, limited like
        a launch of the whole binary. A Unity runner lists by running every case, and a
        framework that `discovers` (Go's subtests) runs its listed cases to find the rest;
        the results they give are kept in `known` for the first run."""
        limit = self.binary_timeout or self.case_timeout
        runs: list[RunResult] = []

        def launch(args: Sequence[str], timeout: Optional[float]) -> RunResult:
            runs.append(self.launch(args, timeout or limit))
            return runs[-1]

        with slow(f"listing the cases of {self.binary} for {self.target.name}"):
            names = self.framework.list_cases(launch)
            if not self.framework.selective and runs:
                report = self.framework.parse_run(runs[-1], names, Path())
                self.known = {name: CaseOutcome(found, runs[-1])
                              for name, found in report.results.items()}
            elif self.framework.discovers and names:
                self.known = self.run_cases(names, keep_all=True)
                names = self.framework.expand(names, list(self.known))
        return names

    def limit(self, count: int) -> float:
        """Seconds one launch of `count` cases may take."""
        total = self.case_timeout * max(count, 1)
        return min(total, self.binary_timeout) if self.binary_timeout else total

    def run_cases(self, cases: Sequence[str], *, isolate: bool = False,
                  keep_all: bool = False) -> dict[str, CaseOutcome]:
        """Every case's outcome: one launch for all (or one per case with `isolate`);
        `keep_all`: with the results of cases the launches ran but were not asked for."""
        outcomes: dict[str, CaseOutcome] = {}
        to_run = []
        for case in dict.fromkeys(cases):
            settled = self.framework.settled(self.names.get(case, case))
            if settled is not None:
                outcomes[case] = CaseOutcome(settled, None)
            elif case in self.known:
                outcomes[case] = self.known.pop(case)
            else:
                to_run.append(case)
        if to_run and not self.framework.selective:
            outcomes.update(self._run_all(to_run))
            return outcomes
        queue: list[list[str]] = [[case] for case in to_run] if isolate else list(_chunks(to_run))
        while queue:
            batch = queue.pop(0)
            result, report = self._launch_batch(batch)
            wanted = set(batch)
            for name, case_result in report.results.items():
                if (keep_all or name in wanted) and name not in outcomes:
                    outcomes[name] = CaseOutcome(case_result, result,
                                                 stderr=report.stderr.get(name))
            missing = [name for name in batch if name not in outcomes]
            if not missing:
                continue
            running = report.running if report.running in missing else None
            if running is None and len(batch) == 1:
                running = batch[0]  # a launch of its own that did not report it
            if running is None:
                progressed = len(missing) < len(batch)
                # Progress made: the rest again in one launch; none: one launch each.
                queue[0:0] = [missing] if progressed else [[name] for name in missing]
                continue
            own = report.stderr.get(running)
            blame = stopped_result(result, running, report.running_output, own)
            outcomes[running] = CaseOutcome(blame, result, True, own)
            rest = [name for name in missing if name != running]
            if rest:
                queue.insert(0, rest)
        return outcomes

    def _run_all(self, wanted: list[str]) -> dict[str, CaseOutcome]:
        """A framework that runs every case in every launch: one launch. A case it left
        without a result cannot run again alone: the running one (when the output names
        it) is blamed, the others are errors."""
        result, report = self._launch_batch(self.cases or wanted)
        outcomes = {name: CaseOutcome(report.results[name], result)
                    for name in wanted if name in report.results}
        unreported = [name for name in self.cases or wanted if name not in report.results]
        for name in wanted:
            if name in outcomes:
                continue
            if name == report.running:
                blame = stopped_result(result, name, report.running_output)
                outcomes[name] = CaseOutcome(blame, result, True)
                continue
            text = (f"{name}: no result: the binary ended ({result.outcome()}) before "
                    f"reporting it, with {len(unreported)} case(s) unreported "
                    f"({', '.join(unreported[:10])}{', ...' if len(unreported) > 10 else ''}); "
                    "it runs every case in each launch, so this one cannot run again alone")
            if result.stderr.strip():
                text += f"\n--- stderr of the launch ---\n{output_tail(result.stderr.rstrip())}"
            outcomes[name] = CaseOutcome(CaseResult(ERROR, text), result, True)
        return outcomes

    def _launch_batch(self, batch: list[str]) -> tuple[RunResult, BatchReport]:
        with tempfile.TemporaryDirectory(prefix="xarch-batch-") as scratch:
            folder = Path(scratch)
            names = list(dict.fromkeys(self.names.get(case, case) for case in batch))
            watch = self.framework.progress(folder, self.case_timeout)
            result = self.launch(self.framework.run_args(names, folder), self.limit(len(batch)),
                                 watch)
            report = self.framework.parse_run(result, batch, folder)
        report.stderr = watch.case_stderr() if watch is not None else {}
        if len(batch) == 1:
            report.stderr[batch[0]] = result.stderr  # a launch of its own: all of it is its
        return result, report


def stopped_result(result: RunResult, case: str, output: str,
                   stderr: Optional[str] = None) -> CaseResult:
    """The result of the case that was running when its launch ended early; `stderr` is
    the case's own (None: not known apart from the launch's)."""
    if result.timed_out:
        how = f"timed out after {result.timeout:g}s" if result.timeout else "timed out"
        text = f"{case} {how}; the launch running it was killed"
    elif result.signal:
        text = f"{case} crashed: the binary was killed by {result.signal_name}"
    else:
        text = (f"the binary ended ({result.outcome()}) while {case} was running, "
                "without reporting its result")
    parts = [text]
    if output.strip():
        parts.append(f"--- output of {case} ---\n{output_tail(output.rstrip())}")
    title, text = ("stderr", stderr) if stderr is not None else ("stderr of the launch",
                                                                 result.stderr)
    if text.strip():
        parts.append(f"--- {title} ---\n{output_tail(text.rstrip())}")
    if result.unimplemented:
        parts.append(f"--- QEMU: unimplemented in emulation ---\n{result.unimplemented}")
    return CaseResult(FAILED, "\n".join(parts), output, result.duration)


def _chunks(cases: list[str]) -> Iterator[list[str]]:
    """Cases in batches whose names fit on one command line."""
    batch: list[str] = []
    size = 0
    for case in cases:
        if batch and size + len(case) + 1 > MAX_ARGUMENT_BYTES:
            yield batch
            batch, size = [], 0
        batch.append(case)
        size += len(case) + 1
    if batch:
        yield batch
