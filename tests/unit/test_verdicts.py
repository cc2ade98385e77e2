"""Clean verdicts of the pre-run check are remembered; changes and findings are not skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pytest_xarch import (
    checks,
    run,  # the front door: checks before runs, as configured
    verdicts,
)
from pytest_xarch.errors import SetupError
from pytest_xarch.targets import host_target


@pytest.fixture
def program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the host's `true`, and a private disk cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("XARCH_NO_CACHE", raising=False)
    true = shutil.which("true")
    assert true is not None
    copy = tmp_path / "prog"
    shutil.copy(true, copy)
    return copy


@pytest.fixture
def check_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every real check before a run."""
    calls: list[str] = []
    real = checks.check_before_run

    def counting(program: str, *args: object, **kwargs: object) -> list[Path]:
        calls.append(program)
        return real(program, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(checks, "check_before_run", counting)
    return calls


def test_a_clean_binary_is_checked_once(program: Path, check_calls: list[str]) -> None:
    for _ in range(3):
        assert run(host_target(), [str(program)]).ok
    assert len(check_calls) == 1


def test_a_changed_binary_is_checked_again(program: Path, check_calls: list[str]) -> None:
    assert run(host_target(), [str(program)]).ok
    program.write_bytes(program.read_bytes() + b"\0")
    assert run(host_target(), [str(program)]).ok
    assert len(check_calls) == 2


def test_findings_are_never_remembered(program: Path, check_calls: list[str]) -> None:
    target = "aarch64"  # the host's x86-64 `true` is the wrong machine for it
    for _ in range(2):
        with pytest.raises(SetupError, match="wrong-machine"):
            run(target, [str(program)])
    assert len(check_calls) == 2


def test_a_verdict_is_void_once_a_file_it_rests_on_changes(tmp_path: Path) -> None:
    library = tmp_path / "libfoo.so.1"
    library.write_bytes(b"one")
    entry = tmp_path / "entry"
    verdicts.remember_clean(entry, [library])
    assert verdicts.known_clean(entry)
    library.write_bytes(b"two, longer")
    assert not verdicts.known_clean(entry)
    verdicts.remember_clean(entry, [library])
    library.unlink()
    assert not verdicts.known_clean(entry)
