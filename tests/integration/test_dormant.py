"""Installed but not asked for, the plugin changes nothing: an unrelated project's run is
the same with and without it; asked for (an option, a setting, a fixture), it is active."""

from __future__ import annotations

import re
import shutil

import pytest

from ..support.tools import require_tool

pytestmark = pytest.mark.integration

PROJECT_TESTS = """
import pytest

def test_adds():
    assert 1 + 1 == 2

@pytest.mark.parametrize("n", [1, 2])
def test_param(n):
    assert n

def test_fails():
    assert 1 == 2, "as intended"
"""


def _project(pytester: pytest.Pytester) -> None:
    """Python tests, and a native test executable pytest itself would not collect."""
    pytester.makepyfile(test_project=PROJECT_TESTS)
    source = pytester.path / "native.c"
    source.write_text("int main(void) { return 0; }\n")
    cc = require_tool("gcc", "gcc")
    pytester.run(cc, str(source), "-o", str(pytester.path / "test_native"))


# Lines that list the installed plugins (pytest's, pytest-metadata's) or the run's place.
LISTINGS = ("plugins:", "metadata:", "rootdir:", "platform ")


def _normalized(output: str) -> list[str]:
    """The run's lines without what differs from run to run (the plugin lists, timings)."""
    lines = []
    for line in output.splitlines():
        if line.startswith(LISTINGS):
            continue
        lines.append(re.sub(r" in [\d.]+s", " in Ns", line))
    return lines


def test_an_unrelated_project_runs_exactly_as_without_the_plugin(
    pytester: pytest.Pytester,
) -> None:
    _project(pytester)
    args = ("-p", "no:cacheprovider", "-rA", "-v")
    with_plugin = pytester.runpytest_subprocess(*args)
    without = pytester.runpytest_subprocess(*args, "-p", "no:xarch")
    plugins = next(line for line in with_plugin.outlines if line.startswith("plugins:"))
    assert " xarch-" in plugins  # installed and loaded
    assert _normalized(with_plugin.stdout.str()) == _normalized(without.stdout.str())
    assert with_plugin.ret == without.ret == pytest.ExitCode.TESTS_FAILED
    assert "test_native" not in with_plugin.stdout.str()
    assert with_plugin.parseoutcomes() == {"passed": 3, "failed": 1}
    # The same under xdist: the plugin leaves the scheduling to xdist.
    parallel = pytester.runpytest_subprocess(*args, "-n", "2")
    alone = pytester.runpytest_subprocess(*args, "-n", "2", "-p", "no:xarch")
    assert parallel.parseoutcomes() == alone.parseoutcomes()
    assert not [line for line in parallel.outlines
                if "xarch" in line and not line.startswith(LISTINGS)]


@pytest.mark.parametrize("asked", [("--xarch=x86_64",), ("-o", "xarch_case_timeout=30")],
                         ids=["option", "ini-setting"])
def test_asking_for_it_activates_it(pytester: pytest.Pytester, asked: tuple[str, ...]) -> None:
    _project(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *asked)
    result.stdout.fnmatch_lines(["xarch: x86_64 via native*"])
    assert result.parseoutcomes() == {"passed": 4, "failed": 1}  # test_native collected
    shutil.rmtree(pytester.path / "__pycache__", ignore_errors=True)


def test_a_fixture_in_use_shows_the_header_after_collection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_uses="""
        def test_target(xarch_target):
            assert xarch_target.name == "x86_64"
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    assert result.parseoutcomes() == {"passed": 1}
    result.stdout.fnmatch_lines(["*collected 1 item", "xarch: x86_64 via native*",
                                 "*test_target?x86_64? PASSED*"])
