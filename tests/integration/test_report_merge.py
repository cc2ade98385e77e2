"""`xarch report` on the reports of real runs: one suite run for x86_64 emulated (qemu-x86_64),
natively, and on a "device" (a real sshd on loopback, fidelity hardware), merged."""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_xarch.targets import host_target

from ..support.build import CrossBuilder
from ..support.tools import require_tool
from .sshd import Sshd

pytestmark = pytest.mark.integration

SUITE = """
import os

def test_everywhere(xarch_run):
    assert xarch_run({hello!r}).returncode == 0

def test_breaks_on_the_board(xarch_run, xarch_runner):
    assert xarch_run({hello!r}).returncode == 0
    assert str(xarch_runner.fidelity) != "hardware", "the board's timer differs"

def test_checked_only(xarch_target):
    assert xarch_target.name
"""


def _xarch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest_xarch.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)


def test_reports_of_three_stages_merge_into_one_matrix(
    pytester: pytest.Pytester, sshd: Sshd, cross_build: CrossBuilder,
) -> None:
    require_tool("qemu-x86_64", "qemu-user")
    host = host_target().name
    hello = cross_build.build(host, '#include <stdio.h>\nint main(void) { puts("hi"); }\n',
                              name="hello")
    pytester.makepyfile(test_stage=SUITE.format(hello=str(hello)))
    pytester.makefile(".toml", xarch=f'[target.{host}]\nssh_identity = "{sshd.identity}"\n'
                      'ssh_known_hosts = "off"\n')
    stages = {"emulated": "qemu", "native": "native", "board": sshd.url}
    for stage, runner in stages.items():
        pytester.runpytest_subprocess(f"--xarch={host}", f"--xarch-runner={host}={runner}",
                                      f"--xarch-report={stage}.json", "-p", "no:cacheprovider")
    fidelity = {stage: json.loads((pytester.path / f"{stage}.json").read_text())["targets"][0]
                ["fidelity"] for stage in stages}
    assert fidelity == {"emulated": "emulated", "native": "native", "board": "hardware"}

    merged = _xarch("report", "emulated.json", "native.json", "board.json", "--html",
                    "matrix.html", "--json", "merged.json", cwd=pytester.path)
    assert merged.returncode == 1, merged.stderr  # a test failed on the board
    verdicts = {test["nodeid"].split("::")[1]: test
                for test in json.loads((pytester.path / "merged.json").read_text())["tests"]}
    assert verdicts[f"test_everywhere[{host}]"]["best_pass"] == "hardware"
    assert verdicts[f"test_everywhere[{host}]"]["status"] == "proven on silicon"
    board = verdicts[f"test_breaks_on_the_board[{host}]"]
    assert (board["best_pass"], board["status"]) == ("native", "failing")
    assert board["failed_at"] == [{"source": "board.json", "fidelity": "hardware"}]
    assert verdicts[f"test_checked_only[{host}]"]["status"] == "only checked, never run"
    assert "test_breaks_on_the_board" in merged.stdout and "hardware (board.json)" in merged.stdout
    page = (pytester.path / "matrix.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page
    failing = html.escape(f"test_stage.py::test_breaks_on_the_board[{host}]")
    assert f'<tr class="failing"><td>{failing}</td>' in page

    only_emulated = _xarch("report", "emulated.json", cwd=pytester.path)
    assert only_emulated.returncode == 0
    assert "never proven on silicon" in only_emulated.stdout


def test_unreadable_reports_are_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text("<testsuites/>")
    (tmp_path / "other.json").write_text('{"results": []}')
    for name, expected in (("junit.xml", "is not JSON"), ("other.json", "not a pytest-xarch "
                           "report"), ("absent.json", "cannot read the report")):
        result = _xarch("report", name, cwd=tmp_path)
        assert result.returncode == 2
        assert expected in result.stderr and "Traceback" not in result.stderr
