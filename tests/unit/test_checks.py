"""Checks on synthetic ELF files and temporary sysroots (real cross builds: tests/integration)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pytest_xarch import check
from pytest_xarch import check as check_file  # names through the settings, as users call it
from pytest_xarch.checks import (
    CODES,
    Finding,
    assert_no_errors,
    check_before_run,
    errors,
    format_finding,
)
from pytest_xarch.errors import SetupError
from pytest_xarch.targets import Target, resolve_target

from .test_elf import make_elf, write


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


LOADER = "/lib/ld-xarch-unit-aarch64.so.1"  # a loader no host has: QEMU's -L falls back
# to the host's own path for what the prefix lacks, and the check predicts exactly that.


@pytest.fixture
def target() -> Target:
    """aarch64, with a loader name that no host has."""
    return dataclasses.replace(resolve_target("aarch64"), loader=LOADER)


@pytest.fixture
def sysroot(tmp_path: Path) -> Path:
    """An aarch64 sysroot holding only the loader (a synthetic ELF)."""
    root = tmp_path / "sysroot"
    (root / "lib").mkdir(parents=True)
    write(root / "lib", make_elf(e_type=3), Path(LOADER).name)
    return root


def test_finding_codes_are_the_stable_set() -> None:
    assert set(CODES) == {
        "not-elf", "corrupt-elf", "wrong-machine", "wrong-class", "wrong-endian", "float-abi",
        "libc-mismatch", "missing-loader", "missing-library", "glibc-too-new", "page-align",
        "isa-level", "mixed-libc", "static-archive",
    }


def test_clean_static_binary_has_no_findings(tmp_path: Path) -> None:
    assert check_file(write(tmp_path, make_elf()), "aarch64") == []


def test_not_elf_and_corrupt_are_findings_not_exceptions(tmp_path: Path) -> None:
    (finding,) = check_file(write(tmp_path, b"#!/bin/sh\n"), "aarch64")
    assert (finding.code, finding.severity) == ("not-elf", "error")
    (finding,) = check_file(write(tmp_path, make_elf()[:70], "cut"), "aarch64")
    assert finding.code == "corrupt-elf"


def test_missing_file_is_a_setup_error(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="cannot be read"):
        check_file(tmp_path / "absent", "aarch64")


def test_x86_64_for_aarch64_names_both_architectures(tmp_path: Path, x86_64_host: object) -> None:
    (finding,) = check_file(write(tmp_path, make_elf(machine=62)), "aarch64")
    assert finding.code == "wrong-machine"
    assert "x86-64" in finding.message and "AArch64" in finding.message
    assert "host compiler" in finding.message  # the host is x86-64: its compiler was used
    assert finding.facts == {"found": 62, "found_name": "x86-64", "expected": 183}


def test_wrong_class_and_endian_alone(tmp_path: Path) -> None:
    assert codes(check_file(write(tmp_path, make_elf(bits=32, machine=62)), "x86_64")) == [
        "wrong-class"
    ]
    assert codes(check_file(write(tmp_path, make_elf(endian="big"), "be"), "aarch64")) == [
        "wrong-endian"
    ]


def test_identity_mismatch_stops_further_checks(tmp_path: Path) -> None:
    data = make_elf(bits=32, machine=40, flags=0x05000200, aligns=(16,))
    assert codes(check_file(write(tmp_path, data), "aarch64")) == ["wrong-machine", "wrong-class"]


def test_arm_float_abi_mismatch(tmp_path: Path) -> None:
    soft = write(tmp_path, make_elf(bits=32, machine=40, flags=0x05000200))
    (finding,) = check_file(soft, "armv7")
    assert finding.code == "float-abi"
    assert "armel" in finding.message and "arm-linux-gnueabihf-gcc" in finding.message
    assert check_file(soft, "armel") == []


def test_riscv_float_abi_mismatch(tmp_path: Path) -> None:
    (finding,) = check_file(write(tmp_path, make_elf(machine=243, flags=0x1)), "riscv64")
    assert finding.code == "float-abi" and "lp64d" in finding.message


@pytest.mark.parametrize(("align", "page", "flagged"), [
    (4096, 65536, True), (65536, 65536, False), (4096, 4096, False), (16384, 16384, False),
])
def test_page_alignment(tmp_path: Path, align: int, page: int, flagged: bool) -> None:
    findings = check_file(write(tmp_path, make_elf(aligns=(align, 65536))), "aarch64",
                          page_size=page)
    assert codes(findings) == (["page-align"] if flagged else [])
    if flagged:
        assert "max-page-size=65536" in findings[0].message


def test_page_size_from_the_target(tmp_path: Path) -> None:
    target = dataclasses.replace(resolve_target("aarch64"), page_size=65536)
    assert codes(check_file(write(tmp_path, make_elf(aligns=(4096,))), target)) == ["page-align"]


def test_musl_loader_for_a_glibc_target(tmp_path: Path, sysroot: Path) -> None:
    data = make_elf(interp="/lib/ld-musl-aarch64.so.1")
    (finding,) = check_file(write(tmp_path, data), "aarch64", sysroot=sysroot)
    assert finding.code == "libc-mismatch"
    assert "aarch64-musl" in finding.message


def test_glibc_loader_for_a_musl_target(tmp_path: Path, sysroot: Path) -> None:
    data = make_elf(interp="/lib/ld-linux-aarch64.so.1")
    assert codes(check_file(write(tmp_path, data), "aarch64-musl", sysroot=sysroot)) == [
        "libc-mismatch"
    ]


def test_loader_present_or_missing(tmp_path: Path, sysroot: Path, target: Target) -> None:
    program = write(tmp_path, make_elf(interp=LOADER))
    assert check_file(program, target, sysroot=sysroot) == []
    empty = tmp_path / "empty"
    empty.mkdir()
    (finding,) = check_file(program, target, sysroot=empty)
    assert finding.code == "missing-loader" and str(empty) in finding.message


def test_loader_other_than_the_targets(tmp_path: Path, sysroot: Path, target: Target) -> None:
    program = write(tmp_path, make_elf(interp="/lib/ld-xarch-other.so.1"))
    (finding,) = check_file(program, target, sysroot=sysroot)
    assert finding.code == "missing-loader" and LOADER in finding.message


def test_symlinks_in_the_sysroot_are_followed_as_qemu_follows_them(
    tmp_path: Path, sysroot: Path, target: Target
) -> None:
    """QEMU's -L checks PREFIX/path on the host: an absolute link means the host's path."""
    (sysroot / "lib64").symlink_to(sysroot / "lib")
    (sysroot / "libx").symlink_to("/nonexistent-xarch-dir")
    assert check_file(write(tmp_path, make_elf(interp="/lib64" + LOADER[4:])), target,
                      sysroot=sysroot) == []
    (finding,) = check_file(write(tmp_path, make_elf(interp="/libx" + LOADER[4:]), "other"),
                            target, sysroot=sysroot)
    assert finding.code == "missing-loader"


def test_no_sysroot_is_a_warning_not_an_error(tmp_path: Path, target: Target) -> None:
    program = write(tmp_path, make_elf(interp=LOADER))
    (finding,) = check_file(program, target)  # no sysroot, no multiarch has this loader
    assert (finding.code, finding.severity) == ("missing-loader", "warning")
    assert errors([finding]) == []


def test_a_configured_sysroot_that_does_not_exist_is_a_setup_error(tmp_path: Path) -> None:
    target = dataclasses.replace(resolve_target("aarch64"), sysroot=str(tmp_path / "none"))
    with pytest.raises(SetupError, match=r"sysroot of target 'aarch64' .*none does not exist"):
        check_file(write(tmp_path, make_elf(interp=LOADER)), target)


def test_sysroot_that_is_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match=r"--sysroot .*nothing does not exist"):
        check_file(write(tmp_path, make_elf()), "aarch64", sysroot=tmp_path / "nothing")


def test_format_and_assert_helpers(tmp_path: Path) -> None:
    finding = Finding("page-align", "error", "too small", "/x/prog", {})
    assert format_finding(finding) == "/x/prog: page-align: too small" == str(finding)
    with pytest.raises(AssertionError, match="/x/prog: page-align: too small"):
        assert_no_errors([finding])
    assert_no_errors([Finding("missing-loader", "warning", "m", "p")])


def test_public_check_alias(tmp_path: Path) -> None:
    assert codes(check(write(tmp_path, make_elf(machine=3, bits=32)), "x86_64")) == [
        "wrong-machine", "wrong-class"
    ]


def test_check_before_run_raises_with_every_error_line(tmp_path: Path) -> None:
    program = write(tmp_path, make_elf(machine=62))
    with pytest.raises(SetupError, match="wrong-machine: x86-64 code") as caught:
        check_before_run(str(program), resolve_target("aarch64"))
    assert "check_before_run = false" in str(caught.value)
    assert "xarch run --no-check" in str(caught.value)
    check_before_run(str(write(tmp_path, make_elf(), "ok")), resolve_target("aarch64"))
