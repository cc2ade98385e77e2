"""Bad input is one clear usage error naming the problem and the fix, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

XARCH = str(Path(sys.executable).with_name("xarch"))


def _usage_error(result: pytest.RunResult, expected: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    result.stderr.fnmatch_lines([f"ERROR: {expected}"])
    assert "Traceback" not in result.stderr.str() + result.stdout.str()
    assert "INTERNALERROR" not in result.stderr.str() + result.stdout.str()


def test_a_skip_that_is_not_target_names(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\n\n@pytest.mark.xarch(skip=123)\n"
                        "def test_x(xarch_target): pass\n")
    _usage_error(pytester.runpytest("--xarch=aarch64"),
                 "*skip must be a target name or a list of them, got 123; use @pytest.mark.xarch(*")


def test_an_unknown_target_parametrized_by_hand(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
import pytest

@pytest.mark.parametrize("xarch_target", ["aarch64", "nosuch"], indirect=True)
def test_x(xarch_target): pass
""")
    _usage_error(pytester.runpytest(), "*test_x?nosuch?: unknown target 'nosuch'*")


def test_a_report_path_that_is_a_directory(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(xarch_target): pass")
    folder = pytester.mkdir("reports")
    _usage_error(pytester.runpytest(f"--xarch-report={folder}"),
                 f"--xarch-report {folder} is a directory: give the path of a file, *")


def test_a_configuration_that_is_a_directory(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile("def test_x(xarch_target): pass")
    monkeypatch.setenv("XARCH_CONFIG", str(pytester.path))
    _usage_error(pytester.runpytest(), f"configuration file {pytester.path} is a directory*")


def test_an_empty_target_list(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(xarch_target): pass")
    _usage_error(pytester.runpytest("--xarch=,"), "--xarch=',': expected target names*")


@pytest.mark.parametrize("where", ["file", "command line"])
def test_an_address_for_a_runner_that_takes_none(pytester: pytest.Pytester, where: str) -> None:
    pytester.makepyfile("def test_x(xarch_target): pass")
    if where == "file":
        pytester.makefile(".toml", xarch='[target.aarch64]\nrunner = "qemu://x"\n')
        result = pytester.runpytest("--xarch=aarch64")
        _usage_error(result, "*'target.aarch64.runner' = 'qemu://x' is invalid: expected*")
    else:
        result = pytester.runpytest("--xarch=aarch64", "--xarch-runner=aarch64=qemu://x")
        _usage_error(result, "--xarch-runner 'aarch64=qemu://x': expected TARGET=RUNNER with*")


@pytest.mark.parametrize(("option", "value"), [
    ("xarch_timeout", "inf"), ("xarch_timeout", "nan"), ("xarch_timeout", "1e300"),
    ("xarch_emulation_factor", "inf"), ("xarch_case_timeout", "1e9"),
])
def test_unusable_numbers_in_ini_options(pytester: pytest.Pytester, option: str,
                                         value: str) -> None:
    pytester.makeini(f"[pytest]\n{option} = {value}\n")
    pytester.makepyfile("def test_x(xarch_target): pass")
    _usage_error(pytester.runpytest(), f"ini option {option}='{value}': expected *")


def test_an_unusable_timeout_in_pyproject(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml("[tool.pytest_xarch]\ntimeout = inf\n")
    pytester.makepyfile("def test_x(xarch_target): pass")
    _usage_error(pytester.runpytest(), "*'tool.pytest_xarch.timeout' = inf is invalid: expected*")


def test_an_unusable_containment_setting(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", xarch='containment = "jail"\n')
    pytester.makepyfile("def test_x(xarch_target): pass")
    _usage_error(pytester.runpytest(), "*'containment' = 'jail' is invalid: expected*")


def test_xarch_run_with_a_sysroot_that_is_a_file(tmp_path: Path) -> None:
    afile = tmp_path / "not-a-root"
    afile.write_text("")
    completed = subprocess.run([XARCH, "run", "--target", "aarch64", "--sysroot", str(afile),
                                "--", sys.executable], capture_output=True, text=True,
                               timeout=60, env={**os.environ})
    assert completed.returncode == 127
    assert f"--sysroot {afile} is not a directory" in completed.stderr
    assert "Traceback" not in completed.stderr
