"""The fixtures: xarch_target, xarch_runner, xarch_run, xarch_build, xarch_check."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Callable, Optional, TypeVar, Union

import pytest

from ..errors import XarchError
from ..runners import Runner, RunResult, run
from ..targets import Target
from ..verdicts import precheck
from .keys import RUNS, state_of


def build_cache_dir(config: pytest.Config) -> Path:
    """Where built artifacts live: the pytest cache (shared by xdist workers), else the user's."""
    from ..collect.items import cache_dir
    from ..diskcache import builds_dir

    return cache_dir(config) or builds_dir()


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
    state = state_of(request.config)
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
    state = state_of(request.config)
    return _or_fail(lambda: state.runner(state.target(xarch_target)))


RunFunction = Callable[..., RunResult]


@pytest.fixture
def xarch_run(request: pytest.FixtureRequest, xarch_target: Target) -> Iterator[RunFunction]:
    """`xarch_run(program, *args, stdin=None, env=None, cwd=None, timeout=None)` -> RunResult.

    Runs a target program for the current target; the test's fidelity is the
    lowest fidelity of its runs.
    """
    state = state_of(request.config)
    target = state.target(xarch_target)
    runs = request.node.stash.setdefault(RUNS, [])
    # No runner (no QEMU, a CPU model it lacks, no binfmt handler): an error at set-up,
    # not a failure of the test.
    runner = _or_fail(lambda: state.runner(target))
    _or_fail(runner.ready)

    def run_for_target(
        program: Union[str, Path], *args: object, stdin: Union[str, bytes, None] = None,
        env: Optional[dict[str, str]] = None, cwd: Union[str, Path, None] = None,
        timeout: Optional[float] = None,
    ) -> RunResult:
        result = _or_fail(lambda: run(
            target, [str(program), *(arg if isinstance(arg, bytes) else str(arg) for arg in args)],
            stdin=stdin, env=env, cwd=str(cwd) if cwd is not None else None,
            timeout=timeout, runner=runner,
            emulation_factor=state.settings.emulation_factor,
            precheck=precheck if state.settings.check_before_run else None,
            output_limit=state.settings.output_limit,
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
    from ..toolchain import build

    state = state_of(request.config)
    target = state.target(xarch_target)
    base = Path(request.path).parent
    # No compiler for the target: an error at set-up naming what to install.
    _or_fail(lambda: _some_compiler(target))

    def build_for_target(
        sources: Union[str, Path, Sequence[Union[str, Path]]], *,
        output: Union[str, Path, None] = None, cflags: Sequence[str] = (),
        ldflags: Sequence[str] = (), static: bool = False, lang: str = "c",
    ) -> Path:
        items = [sources] if isinstance(sources, (str, Path)) else list(sources)
        paths = [base / item for item in items]
        return _or_fail(lambda: build(
            target, paths, output=Path(output) if output else None, cflags=cflags,
            ldflags=ldflags, static=static, lang=lang, cache_dir=build_cache_dir(request.config),
        ))

    return build_for_target


def _some_compiler(target: Target) -> None:
    """SetupError when neither a C nor a C++ compiler builds for `target` (a test that asks
    for the language missing finds out when it builds)."""
    from ..toolchain import find_compiler

    try:
        find_compiler(target, "c")
    except XarchError:
        try:
            find_compiler(target, "c++")
        except XarchError:
            find_compiler(target, "c")  # the C compiler's message: the usual fix


class StaticChecker:
    """`xarch_check(path)` -> findings for the current target; `.assert_clean(path)`."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def __call__(self, path: Union[str, Path]) -> list[Any]:
        from ..checks import check_file

        return list(check_file(Path(path), self.target))

    def assert_clean(self, path: Union[str, Path]) -> None:
        """Fail the test with every error finding's message, if there is any."""
        from ..checks import errors, format_finding

        found = errors(self(path))
        if found:
            lines = "\n".join(format_finding(finding) for finding in found)
            pytest.fail(f"{path} would not run on {self.target.name}:\n{lines}", pytrace=False)


@pytest.fixture
def xarch_check(request: pytest.FixtureRequest, xarch_target: Target) -> StaticChecker:
    """Static verification for the current target (fidelity `static`)."""
    return StaticChecker(state_of(request.config).target(xarch_target))
