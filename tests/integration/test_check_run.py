"""Checks before runs: real QEMU runs fail early with the finding, not with QEMU's message."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pytest_xarch import run
from pytest_xarch.cli import main
from pytest_xarch.errors import SetupError
from pytest_xarch.targets import resolve_target
from tests.support.build import CrossBuilder
from tests.support.tools import require_tool

from .corpus import Corpus


@pytest.fixture(scope="module")
def corpus(cross_build: CrossBuilder) -> Corpus:
    return Corpus(cross_build)


@pytest.fixture(autouse=True)
def qemu() -> None:
    require_tool("qemu-aarch64", "qemu-user")


def test_clean_binary_runs(corpus: Corpus) -> None:
    result = run("aarch64", [str(corpus.hello("aarch64"))])
    assert (result.returncode, result.stdout) == (0, "hello\n")


def test_wrong_machine_fails_before_qemu_with_the_finding(corpus: Corpus) -> None:
    program = str(corpus.hello("x86_64"))
    with pytest.raises(SetupError) as caught:
        run("aarch64", [program])
    assert f"{program}: wrong-machine: x86-64 code, expected AArch64" in str(caught.value)
    # Unchecked, QEMU itself refuses it with a far less helpful message.
    unchecked = run("aarch64", [program], check=False)
    assert unchecked.returncode != 0
    assert "wrong-machine" not in unchecked.stderr


def test_what_qemu_cannot_show_is_caught(corpus: Corpus) -> None:
    """A 4K-aligned binary runs under QEMU (4K host pages) but not on a 64K-page kernel."""
    program = str(corpus.hello("aarch64", "-Wl,-z,max-page-size=4096"))
    assert run("aarch64", [program]).returncode == 0
    board = dataclasses.replace(resolve_target("aarch64"), name="ampere-64k", page_size=65536)
    with pytest.raises(SetupError, match="page-align: PT_LOAD segments aligned to 4 KiB"):
        run(board, [program])


def test_xarch_run_exits_127_with_the_finding_and_the_setting_turns_it_off(
    corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XARCH_CONFIG", raising=False)
    program = str(corpus.hello("armel"))  # soft-float, for an armhf target
    assert main(["run", "--target", "armv7", "--", program]) == 127
    err = capsys.readouterr().err
    assert "float-abi: soft-float ABI, target 'armv7' uses the hard-float ABI" in err
    (tmp_path / "xarch.toml").write_text("check_before_run = false\n")
    status = main(["run", "--target", "armv7", "--", program])
    assert status != 127  # QEMU got to try (and the armhf sysroot lacks ld-linux.so.3)
    assert "float-abi" not in capsys.readouterr().err
