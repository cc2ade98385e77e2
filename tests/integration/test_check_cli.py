"""`xarch check`: output, exit contract (0/1/2), --json, --recursive, overrides, configuration."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pytest_xarch.cli import main
from pytest_xarch.process import run_tool
from tests.support.build import CrossBuilder

from .corpus import Corpus, install


@pytest.fixture(scope="module")
def corpus(cross_build: CrossBuilder) -> Corpus:
    return Corpus(cross_build)


@pytest.fixture(autouse=True)
def no_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from an empty directory so the repository's own pyproject is not picked up."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XARCH_CONFIG", raising=False)


def xarch(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        status = main(list(argv))
    except SystemExit as exit_:  # argparse usage errors
        status = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def test_clean_binary_exits_0(corpus: Corpus, capsys: pytest.CaptureFixture[str]) -> None:
    program = corpus.hello("aarch64")
    status, out, err = xarch(capsys, "check", "--target", "arm64", str(program))
    assert status == 0
    assert out == f"{program}: ok\n"
    assert "1 file(s) checked for target 'aarch64': 0 error(s)" in err


def test_errors_exit_1_with_one_line_per_finding(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    armel = corpus.hello("armel")
    status, out, _ = xarch(capsys, "check", "--target", "armv7", str(armel))
    assert status == 1
    lines = out.splitlines()
    assert [line.split(": ")[1] for line in lines] == ["float-abi", "missing-loader"]
    assert all(line.startswith(f"{armel}: ") for line in lines)


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "/bin/true"],  # no --target
        ["check", "--target", "aarch64"],  # no file
        ["check", "--target", "nosuch", "/bin/true"],
        ["check", "--target", "aarch64", "--page-size", "5000", "/bin/true"],
        ["check", "--target", "aarch64", "--glibc", "two", "/bin/true"],
        ["check", "--target", "aarch64", "/nonexistent/prog"],
        ["check", "--target", "aarch64", "--sysroot", "/nonexistent", "/bin/true"],
        ["check", "--target", "aarch64", "/usr"],  # a directory without --recursive
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    status, out, err = xarch(capsys, *argv)
    assert status == 2
    assert "Traceback" not in err and out == ""
    assert "error:" in err


def test_json_report(corpus: Corpus, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = corpus.hello("aarch64"), corpus.hello("x86_64")
    status, out, _ = xarch(capsys, "check", "--target", "aarch64", "--json", str(good), str(bad))
    assert status == 1
    report = json.loads(out)
    assert report["target"] == "aarch64" and report["errors"] == 1
    assert [f["ok"] for f in report["files"]] == [True, False]
    (finding,) = report["files"][1]["findings"]
    assert finding["code"] == "wrong-machine" and finding["severity"] == "error"
    assert finding["facts"]["found"] == 62


def test_recursive_skips_non_elf_files_quietly(
    corpus: Corpus, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = tmp_path / "out"
    install(tree / "bin", corpus.hello("aarch64"), names=("good",))
    install(tree / "lib", corpus.hello("x86_64"), names=("host-built",))
    (tree / "README").write_text("not a binary")
    status, out, err = xarch(capsys, "check", "--target", "aarch64", "--recursive", str(tree))
    assert status == 1
    assert out.splitlines()[0] == f"{tree / 'bin' / 'good'}: ok"
    assert "wrong-machine" in out.splitlines()[1]
    assert "README" not in out
    assert "2 file(s) checked" in err
    # Named explicitly, a non-ELF file is reported.
    status, out, _ = xarch(capsys, "check", "--target", "aarch64", str(tree / "README"))
    assert status == 1 and ": not-elf: " in out


def test_overrides(corpus: Corpus, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = str(corpus.hello("aarch64", "-Wl,-z,max-page-size=4096"))
    assert xarch(capsys, "check", "-t", "aarch64", program)[0] == 0
    status, out, _ = xarch(capsys, "check", "-t", "aarch64", "--page-size", "65536", program)
    assert (status, out.split(": ")[1]) == (1, "page-align")
    status, out, _ = xarch(capsys, "check", "-t", "aarch64", "--glibc", "2.28", program)
    assert (status, out.split(": ")[1]) == (1, "glibc-too-new")
    armv7 = str(corpus.hello("armv7"))  # its loader is nowhere on this host but the sysroot
    status, out, _ = xarch(capsys, "check", "-t", "armv7", "--sysroot", str(tmp_path), armv7)
    assert (status, out.split(": ")[1]) == (1, "missing-loader")


def test_static_archives_are_checked_member_by_member(
    corpus: Corpus, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    objects = []
    for name in ("one", "two"):
        source = tmp_path / f"{name}.c"
        source.write_text(f"int {name}(void) {{ return 1; }}\n")
        objects.append(str(tmp_path / f"{name}.o"))
        compiled = run_tool(["aarch64-linux-gnu-gcc", "-c", str(source), "-o", objects[-1]])
        assert compiled.returncode == 0, compiled.stderr
    archive = tmp_path / "libboth.a"
    assert run_tool(["aarch64-linux-gnu-ar", "rcs", str(archive), *objects]).returncode == 0
    status, out, _ = xarch(capsys, "check", "-t", "aarch64", str(archive))
    assert status == 0
    assert out.startswith(f"{archive}: static-archive: static archive of 2 object file(s)")
    status, out, _ = xarch(capsys, "check", "-t", "riscv64", str(archive))
    assert status == 1
    assert out.splitlines()[0].startswith(f"{archive}: wrong-machine: ")
    assert "(2 of 2 members, e.g. one.o)" in out


def test_a_missing_file_does_not_stop_the_others(
    corpus: Corpus, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = corpus.hello("aarch64"), corpus.hello("x86_64")
    status, out, err = xarch(capsys, "check", "-t", "aarch64", str(good),
                             str(tmp_path / "gone"), str(bad))
    assert status == 2
    assert out.splitlines()[0] == f"{good}: ok" and "wrong-machine" in out.splitlines()[1]
    assert f"xarch: error: {tmp_path / 'gone'}: no such file" in err
    assert "2 file(s) checked" in err and "1 not checked" in err


def test_a_relative_sysroot_is_relative_to_the_configuration(
    corpus: Corpus, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "project" / "sub").mkdir(parents=True)
    (tmp_path / "project" / "xarch.toml").write_text(
        '[target.board]\nbase = "armv7"\nsysroot = "empty-root"\n')
    (tmp_path / "project" / "empty-root").mkdir()
    monkeypatch.chdir(tmp_path / "project" / "sub")
    status, out, _ = xarch(capsys, "check", "-t", "board", "--json", str(corpus.hello("armv7")))
    report = json.loads(out)
    assert report["sysroot"] == str(tmp_path / "project" / "empty-root")
    assert status == 1 and report["files"][0]["findings"][0]["code"] == "missing-loader"


def test_configured_target(
    corpus: Corpus, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "xarch.toml").write_text(
        '[target.old-pi]\nbase = "aarch64"\nglibc = "2.31"\npage_size = 16384\n'
    )
    program = str(corpus.hello("aarch64", "-Wl,-z,max-page-size=4096"))
    status, out, _ = xarch(capsys, "check", "--target", "old-pi", program)
    assert status == 1
    assert [line.split(": ")[1] for line in out.splitlines()] == ["page-align", "glibc-too-new"]
    assert "target 'old-pi' has glibc 2.31 (its glibc setting)" in out


def test_as_a_real_command(corpus: Corpus) -> None:
    completed = run_tool(
        [sys.executable, "-m", "pytest_xarch.cli", "check", "--target", "aarch64",
         str(corpus.hello("x86_64"))],
        timeout=60,
    )
    assert completed.returncode == 1
    assert ": wrong-machine: x86-64 code, expected AArch64" in completed.stdout
