"""The library's front door resolves names through the project's settings, as `xarch` does."""

from __future__ import annotations

from pathlib import Path

import pytest

import pytest_xarch
from tests.integration.test_run import ECHO
from tests.support.build import CrossBuilder
from tests.support.tools import require_tool

pytestmark = pytest.mark.integration


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project that defines `board` (an aarch64 with its own CPU and environment)."""
    (tmp_path / "xarch.toml").write_text(
        'emulation_factor = 2\n[target.board]\nbase = "aarch64"\ncpu = "cortex-a72"\n'
        'env = { BOARD_NAME = "lab-7" }\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XARCH_CONFIG", raising=False)
    return tmp_path


def test_run_check_and_resolve_accept_a_target_the_project_defines(
    project: Path, cross_build: CrossBuilder
) -> None:
    require_tool("qemu-aarch64", "qemu-user")
    program = str(cross_build.build("aarch64", ECHO, "-static", name="echo"))
    board = pytest_xarch.resolve_target("board")
    assert (board.name, board.cpu, board.base) == ("board", "cortex-a72", "aarch64")
    result = pytest_xarch.run("board", [program, "0"])
    assert result.ok, result.explain()
    assert (result.target, result.cpu) == ("board", "cortex-a72")
    assert pytest_xarch.check(program, "board") == []
    assert pytest_xarch.runner_for("board").cpu == "cortex-a72"


def test_the_projects_settings_apply_to_library_runs(
    project: Path, cross_build: CrossBuilder
) -> None:
    require_tool("qemu-aarch64", "qemu-user")
    program = str(cross_build.build("aarch64", ECHO, "-static", name="echo"))
    result = pytest_xarch.run("board", [program, "0"])
    assert result.timeout == 60 * 2  # the project's emulation factor, not the default 5


def test_an_unknown_name_still_says_where_to_define_it(project: Path) -> None:
    with pytest.raises(pytest_xarch.UnknownTargetError, match=r"\[tool.pytest_xarch.target"):
        pytest_xarch.run("no-such-board", ["/bin/true"])
