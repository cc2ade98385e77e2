"""CTest build trees: `ctest --show-only=json-v1` -> one item per test and matching target.

A test whose command runs a target ELF (after stripping the build's
`CMAKE_CROSSCOMPILING_EMULATOR`, if it set one) runs through the target's
runner. A test that runs a host program (a script, a tool) given target
programs as arguments runs on the host once per target those programs are
built for, with `XARCH_RUNNER`/`XARCH_TARGET` in its environment; its fidelity
is the runner's when it launched a target program through `$XARCH_RUNNER`, else
static (nothing of the target ran). A host command given no target program
(`cmake -P check.cmake`) runs once, as the host's (`name[host]`, fidelity native).
A test whose program is a Unity runner (and no property judges the whole test)
is its cases: `<test>/<case>[<target>]`, as the binary collector makes them.
WORKING_DIRECTORY, ENVIRONMENT, WILL_FAIL, SKIP_RETURN_CODE, TIMEOUT,
DISABLED and PASS/FAIL_REGULAR_EXPRESSION are honoured as ctest does.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import pytest

from ..errors import XarchError
from ..fidelity import Fidelity
from ..process import execute, run_tool
from ..runners import NativeRunner, Runner, RunResult, guest_environment, host_environment, run
from ..runners import default_timeout as target_timeout
from ..targets import Target, host_target
from ..verdicts import precheck
from .batch import BinaryRunner
from .identify import has_elf_magic, matching_targets
from .items import CaseFailure, PlainFailureItem
from .options import CollectOptions

if TYPE_CHECKING:
    from ..elf import ElfFacts
    from ..state import SessionState

CTEST_FILE = "CTestTestfile.cmake"
_LIST_TIMEOUT = 120.0


@dataclass
class CTestCase:
    """One test as ctest describes it."""

    name: str
    command: list[str]
    cwd: Optional[str] = None
    env: dict[str, str] = field(default_factory=dict)
    will_fail: bool = False
    skip_code: Optional[int] = None
    timeout: Optional[float] = None
    pass_regex: list[str] = field(default_factory=list)
    fail_regex: list[str] = field(default_factory=list)
    disabled: bool = False


def is_ctest_root(path: Path) -> bool:
    """A CTestTestfile.cmake at the top of its tree (its parent folder has none)."""
    return path.name == CTEST_FILE and not (path.parent.parent / CTEST_FILE).is_file()


def in_ctest_tree(path: Path, stop: Path) -> bool:
    """Whether a folder from `path`'s up to `stop` holds a CTestTestfile.cmake."""
    for folder in path.parents:
        if (folder / CTEST_FILE).is_file():
            return True
        if folder == stop or folder == folder.parent:
            return False
    return False


def list_tests(build_dir: Path) -> list[CTestCase]:
    """The tests of a CMake build tree, as `ctest --show-only=json-v1` lists them."""
    completed = run_tool(
        ["ctest", "--show-only=json-v1"], timeout=_LIST_TIMEOUT, cwd=str(build_dir)
    )
    if completed.returncode != 0:
        raise XarchError(
            f"ctest --show-only=json-v1 failed in {build_dir} ({completed.returncode}): "
            f"{completed.stderr.strip()[:2000]}; is cmake >= 3.14 installed "
            "(apt-get install cmake)?"
        )
    try:
        data = json.loads(completed.stdout)
    except ValueError as error:
        raise XarchError(f"ctest in {build_dir} printed unreadable JSON: {error}") from None
    return [parse_test(entry) for entry in data.get("tests", []) if entry.get("command")]


def parse_test(entry: dict[str, Any]) -> CTestCase:
    """A CTestCase from one `tests` entry of ctest's JSON."""
    case = CTestCase(entry["name"], [str(part) for part in entry["command"]])
    for prop in entry.get("properties", []):
        name, value = prop.get("name"), prop.get("value")
        if name == "WORKING_DIRECTORY":
            case.cwd = str(value)
        elif name == "ENVIRONMENT":
            for item in value if isinstance(value, list) else [value]:
                key, _, text = str(item).partition("=")
                case.env[key] = text
        elif name == "WILL_FAIL":
            case.will_fail = bool(value)
        elif name == "SKIP_RETURN_CODE":
            case.skip_code = int(value)
        elif name == "TIMEOUT":
            case.timeout = float(value) or None
        elif name == "DISABLED":
            case.disabled = bool(value)
        elif name == "PASS_REGULAR_EXPRESSION":
            case.pass_regex = [str(v) for v in (value if isinstance(value, list) else [value])]
        elif name == "FAIL_REGULAR_EXPRESSION":
            case.fail_regex = [str(v) for v in (value if isinstance(value, list) else [value])]
    return case


def emulator_prefix(build_dir: Path) -> list[str]:
    """CMAKE_CROSSCOMPILING_EMULATOR of the build (a ;-list), or []; `build_dir` may be a
    subdirectory of the build tree (the cache is at its top)."""
    cache = next((folder / "CMakeCache.txt" for folder in (build_dir, *build_dir.parents)
                  if (folder / "CMakeCache.txt").is_file()), None)
    try:
        text = cache.read_text("utf-8", errors="replace") if cache else ""
    except OSError:
        return []
    match = re.search(r"^CMAKE_CROSSCOMPILING_EMULATOR(?::\w+)?=(.*)$", text, re.MULTILINE)
    return [part for part in match.group(1).strip().split(";") if part] if match else []


def strip_emulator(command: Sequence[str], emulator: Sequence[str]) -> list[str]:
    """The command without the emulator ctest put in front of it (compared by program name)."""
    count = len(emulator)
    if count and len(command) > count and os.path.basename(command[0]) == os.path.basename(
        emulator[0]
    ) and list(command[1:count]) == list(emulator[1:]):
        return list(command[count:])
    return list(command)


def evaluate(case: CTestCase, result: RunResult) -> tuple[str, str]:
    """(outcome, message) of a finished test, by ctest's rules."""
    output = result.stdout + result.stderr
    if result.timed_out:
        return "failed", f"{case.name}: {result.outcome()}"
    if case.skip_code is not None and result.returncode == case.skip_code:
        return "skipped", f"{case.name}: exit {case.skip_code} (SKIP_RETURN_CODE)"
    failed_by = next((rx for rx in case.fail_regex if re.search(rx, output)), None)
    if failed_by is not None:
        return "failed", f"{case.name}: output matches FAIL_REGULAR_EXPRESSION {failed_by!r}"
    if case.pass_regex:
        passed = any(re.search(rx, output) for rx in case.pass_regex)
        detail = "no output matches PASS_REGULAR_EXPRESSION"
    else:
        passed = result.returncode == 0
        detail = result.outcome()
    if case.will_fail and not result.signal:
        return ("failed", f"{case.name}: WILL_FAIL, but it passed") if passed else ("passed", "")
    return ("passed", "") if passed else ("failed", f"{case.name}: {detail}")


class CTestTree(pytest.File):
    """A CMake build tree's CTestTestfile.cmake: the tests ctest knows, per target."""

    def __init__(self, *, state: SessionState, options: CollectOptions, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.options = options

    def collect(self) -> Iterator[pytest.Item]:
        build_dir = self.path.parent
        try:
            tests = list_tests(build_dir)
        except XarchError as error:
            raise self.CollectError(str(error)) from None
        emulator = emulator_prefix(build_dir)
        for case in tests:
            case.command = strip_emulator(case.command, emulator)
            facts = _target_facts(case.command[0], build_dir)
            kind = _case_framework(case, facts) if facts is not None else None
            if facts is not None and kind is not None:
                for target in matching_targets(facts, self.state.targets):
                    yield from self._cases(case, facts, target, kind)
                continue
            if facts is not None:
                targets = matching_targets(facts, self.state.targets)
            else:  # a host command: for the targets of the programs it is given
                given = [found for argument in case.command[1:]
                         if (found := _target_facts(argument, build_dir)) is not None]
                if not given:  # nothing of a target: the host's test, run once
                    yield CTestItem.from_parent(
                        self, name=f"{case.name}[host]", case=case, target=host_target(),
                        on_target=False, host_only=True, state=self.state,
                        options=self.options)
                    continue
                targets = list(self.state.targets)
                for program in given:
                    targets = matching_targets(program, targets)
            for target in targets:
                yield CTestItem.from_parent(
                    self, name=f"{case.name}[{target.name}]", case=case, target=target,
                    on_target=facts is not None, state=self.state, options=self.options,
                )

    def _cases(self, case: CTestCase, facts: ElfFacts, target: Target, kind: str
               ) -> Iterator[pytest.Item]:
        """The cases of a test whose program reports each case (a Unity runner: `kind`),
        named `<test>/<case>[<target>]`, run as the test runs (arguments, environment,
        folder)."""
        from .identify import framework_for
        from .items import case_items

        program = Path(case.command[0])
        try:
            runner = self.state.runner(target)
        except XarchError as error:
            raise self.CollectError(str(error)) from None
        binary = BinaryRunner(
            program, framework_for(kind, program.name), target, runner,
            cwd=Path(case.cwd) if case.cwd else None, env=case.env,
            case_timeout=self.options.case_timeout,
            binary_timeout=case.timeout or self.options.binary_timeout,
            emulation_factor=self.state.settings.emulation_factor, args=case.command[1:],
            precheck=precheck if self.state.settings.check_before_run else None)
        yield from case_items(self, binary, facts.digest,
                              isolate=self.options.isolated(program), prefix=f"{case.name}/")


def _case_framework(case: CTestCase, facts: ElfFacts) -> Optional[str]:
    """The framework when the test is its program's cases: one that cannot select cases (a
    Unity runner) and no property that judges the whole test (WILL_FAIL, regexes, ...)."""
    from .identify import identify

    judged = (case.will_fail or case.skip_code is not None or case.pass_regex
              or case.fail_regex or case.disabled)
    kind = identify(Path(case.command[0]), facts)
    return kind if not judged and kind == "unity" else None


def _target_facts(path: str, build_dir: Path) -> Optional[ElfFacts]:
    """The ELF facts of `path` if it is a target program: a readable ELF built by this
    tree, or not this host's code (host tools such as /bin/sh are not); else None."""
    from ..elf import read_facts

    if not has_elf_magic(path):
        return None
    try:
        facts = read_facts(path)
    except XarchError:
        return None
    try:
        Path(path).resolve().relative_to(build_dir.resolve())
        return facts
    except ValueError:
        pass
    host = host_target()
    return facts if (facts.machine, facts.bits) != (host.machine, host.bits) else None


class CTestItem(PlainFailureItem):
    """One ctest test for one target."""

    def __init__(self, *, case: CTestCase, target: Target, on_target: bool,
                 state: SessionState, options: CollectOptions, host_only: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.state = state
        self.options = options
        self.on_target = on_target
        self.host_only = host_only
        self.xarch_target = target
        self.xarch_runs: list[RunResult] = []

    def runtest(self) -> None:
        if self.case.disabled:
            pytest.skip(f"{self.case.name}: DISABLED")
        result = self._run(self.state)
        self.xarch_runs = [result]
        outcome, message = evaluate(self.case, result)
        if outcome == "skipped":
            pytest.skip(message)
        if outcome == "failed":
            raise CaseFailure(f"{message}\n{result.explain()}")

    def _run(self, state: SessionState) -> RunResult:
        target = self.xarch_target
        if self.host_only:
            return self._run_on_host(NativeRunner(target), self.case.env, "host command")
        try:
            runner = state.runner(target)
        except XarchError as error:
            raise CaseFailure(str(error)) from None
        factor = state.settings.emulation_factor
        configured = self.case.timeout or self.options.case_timeout
        timeout = target_timeout(target, runner, factor, configured)
        if self.on_target:
            try:
                return run(target, self.case.command, runner=runner, cwd=self.case.cwd,
                           env=self.case.env, timeout=timeout, emulation_factor=factor,
                           precheck=precheck if state.settings.check_before_run else None)
            except XarchError as error:
                raise CaseFailure(str(error)) from None
        with tempfile.TemporaryDirectory(prefix="xarch-ctest-") as scratch:
            launches = Path(scratch) / "launches"
            wrapper = Path(scratch) / "runner"
            wrapper.write_text(f"#!/bin/sh\necho >> {shlex.quote(str(launches))}\n"
                               f"exec {shlex.join(runner.prefix())} \"$@\"\n")
            wrapper.chmod(0o755)
            env = {**guest_environment(target, runner, self.case.env).given,
                   "XARCH_RUNNER": str(wrapper)}
            result = self._run_on_host(
                runner, env, f"host command, target programs via {runner.describe()}", timeout)
            if not launches.exists():  # no target program ran: nothing of the target shown
                result.fidelity = Fidelity.STATIC
                result.runner_description = ("host command; it launched no target program "
                                             "through $XARCH_RUNNER")
        return result

    def _run_on_host(self, runner: Runner, env: dict[str, str], description: str,
                     timeout: Optional[float] = None) -> RunResult:
        """The test's command on this host, with `env` on top of this process's."""
        if timeout is None:
            timeout = target_timeout(self.xarch_target, runner, 1.0,
                                     self.case.timeout or self.options.case_timeout)
        try:
            outcome = execute(self.case.command, timeout=timeout,
                              env={**host_environment(), **env}, cwd=self.case.cwd)
        except OSError as error:
            raise CaseFailure(f"{self.case.name}: cannot run {self.case.command[0]}: "
                              f"{error.strerror}") from None
        result = RunResult.from_outcome(
            outcome, self.case.command, self.xarch_target.name, runner, timeout=timeout,
            command=self.case.command, description=description)
        result.stderr = outcome.stderr.decode(errors="replace")
        return result

    def reportinfo(self) -> tuple[Path, Optional[int], str]:
        return self.path, None, f"ctest::{self.case.name} [{self.xarch_target.name}]"
