"""Every finding code on real cross-built binaries, and clean binaries for every glibc target."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pytest_xarch import check as check_file
from pytest_xarch.checks import Finding
from pytest_xarch.elf import read_facts
from pytest_xarch.targets import builtin_registry, resolve_target
from tests.support.build import CrossBuilder

from .corpus import EXPECTED_KIND, LINKAGES, Corpus, install

GLIBC_TARGETS = [t.name for t in builtin_registry() if t.libc == "glibc"]


@pytest.fixture(scope="module")
def corpus(cross_build: CrossBuilder) -> Corpus:
    return Corpus(cross_build)


def codes(findings: list[Finding]) -> list[str]:
    return [f.code for f in findings]


@pytest.mark.parametrize("linkage", list(LINKAGES))
@pytest.mark.parametrize("target", GLIBC_TARGETS)
def test_clean_binaries_have_no_findings(corpus: Corpus, target: str, linkage: str) -> None:
    path = corpus.clean(target, linkage)
    facts = read_facts(path)
    assert (facts.kind, facts.linkage) == EXPECTED_KIND[linkage]
    assert check_file(path, target) == []  # not even a warning: the sysroot is there


@pytest.mark.parametrize("target", ["aarch64", "x86_64"])
def test_static_pie_is_recognised_and_clean(corpus: Corpus, target: str) -> None:
    path = corpus.hello(target, "-static-pie")
    assert (read_facts(path).kind, read_facts(path).linkage) == ("pie", "static-pie")
    assert check_file(path, target) == []


def test_not_elf(tmp_path: Path) -> None:
    script = tmp_path / "run-tests.sh"
    script.write_text("#!/bin/sh\nexec ./prog\n")
    (finding,) = check_file(script, "aarch64")
    assert finding.code == "not-elf" and "script" in finding.message


@pytest.mark.parametrize("keep", [40, 2000, -100])
def test_truncated_binary_is_corrupt(corpus: Corpus, tmp_path: Path, keep: int) -> None:
    data = corpus.hello("aarch64").read_bytes()
    cut = tmp_path / "cut"
    cut.write_bytes(data[:keep])
    assert codes(check_file(cut, "aarch64")) == ["corrupt-elf"]


def test_x86_64_binary_for_aarch64(corpus: Corpus) -> None:
    (finding,) = check_file(corpus.hello("x86_64"), "aarch64")
    assert finding.code == "wrong-machine"
    assert "x86-64 code, expected AArch64" in finding.message
    assert "cross compiler (aarch64-linux-gnu-gcc)" in finding.message


def test_armv7_binary_for_aarch64(corpus: Corpus) -> None:
    findings = check_file(corpus.hello("armv7"), "aarch64")
    assert codes(findings) == ["wrong-machine", "wrong-class"]
    assert "target 'armv7'" in findings[0].message


def test_x32_binary_for_x86_64_is_only_the_wrong_class(corpus: Corpus) -> None:
    assert codes(check_file(corpus.freestanding("x86_64", "-mx32"), "x86_64")) == ["wrong-class"]


def test_big_endian_aarch64_binary(corpus: Corpus) -> None:
    (finding,) = check_file(corpus.freestanding("aarch64", "-mbig-endian"), "aarch64")
    assert finding.code == "wrong-endian" and "-mbig-endian" in finding.message


def test_s390x_binary_for_little_endian_ppc64le(corpus: Corpus) -> None:
    findings = check_file(corpus.hello("s390x"), "ppc64le")
    assert codes(findings) == ["wrong-machine", "wrong-endian"]


def test_soft_float_armel_binary_for_armv7(corpus: Corpus) -> None:
    (finding,) = check_file(corpus.hello("armel", "-static"), "armv7")
    assert finding.code == "float-abi"
    assert finding.facts == {"found": "soft", "expected": "hard"}
    # Dynamic, it also names the armel loader the armhf sysroot does not have.
    dynamic = check_file(corpus.hello("armel"), "armv7")
    assert codes(dynamic) == ["float-abi", "missing-loader"]
    assert "/lib/ld-linux.so.3" in dynamic[1].message


def test_soft_float_riscv_binary(corpus: Corpus) -> None:
    path = corpus.freestanding("riscv64", "-march=rv64imac", "-mabi=lp64")
    (finding,) = check_file(path, "riscv64")
    assert finding.code == "float-abi" and "lp64d" in finding.message


def test_musl_dynamic_binary_for_a_glibc_target(corpus: Corpus) -> None:
    path = corpus.hello("aarch64", "-Wl,--dynamic-linker=/lib/ld-musl-aarch64.so.1")
    (finding,) = check_file(path, "aarch64")
    assert finding.code == "libc-mismatch"
    assert "musl" in finding.message and "aarch64-musl" in finding.message


def test_glibc_dynamic_binary_for_a_musl_target(corpus: Corpus) -> None:
    assert codes(check_file(corpus.hello("aarch64"), "aarch64-musl")) == ["libc-mismatch"]
    assert check_file(corpus.hello("aarch64", "-static"), "aarch64-musl") == []


def test_sysroot_lacking_the_loader(corpus: Corpus, tmp_path: Path) -> None:
    (finding,) = check_file(corpus.hello("aarch64"), "aarch64", sysroot=tmp_path)
    assert finding.code == "missing-loader"
    assert "/lib/ld-linux-aarch64.so.1" in finding.message


def test_library_absent_from_the_sysroot(corpus: Corpus, tmp_path: Path) -> None:
    program = install(tmp_path, corpus.uses_foo())  # without its libfoo.so.1
    (finding,) = check_file(program, "aarch64")
    assert finding.code == "missing-library"
    assert finding.facts["library"] == "libfoo.so.1"
    assert str(tmp_path) in finding.facts["searched"]  # $ORIGIN was searched


def test_library_found_next_to_the_program_through_origin(
    corpus: Corpus, tmp_path: Path
) -> None:
    program = install(tmp_path, corpus.uses_foo(), corpus.libfoo(2))
    assert check_file(program, "aarch64") == []


def test_library_too_old_for_the_version_the_program_needs(
    corpus: Corpus, tmp_path: Path
) -> None:
    program = install(tmp_path, corpus.uses_foo(), corpus.libfoo(1))
    (finding,) = check_file(program, "aarch64")
    assert finding.code == "missing-library"
    assert "FOO_2.0" in finding.message and "foo_new@FOO_2.0" in finding.message


def test_transitive_library_missing(corpus: Corpus, tmp_path: Path) -> None:
    program = install(tmp_path, corpus.uses_bar(), corpus.libbar())
    (finding,) = check_file(program, "aarch64")
    assert finding.code == "missing-library"
    assert "libfoo.so.1 (needed by libbar.so.1)" in finding.message
    install(tmp_path, corpus.libfoo(2))
    assert check_file(program, "aarch64") == []


def test_library_dirs_given_like_ld_library_path(corpus: Corpus, tmp_path: Path) -> None:
    program = install(tmp_path / "bin", corpus.uses_foo())
    install(tmp_path / "lib", corpus.libfoo(2))
    assert codes(check_file(program, "aarch64")) == ["missing-library"]
    assert check_file(program, "aarch64", extra_library_dirs=[str(tmp_path / "lib")]) == []


def test_glibc_newer_than_the_floor(corpus: Corpus) -> None:
    program = corpus.hello("aarch64")
    assert check_file(program, "aarch64") == []  # the sysroot's own glibc (2.36) is the floor
    (finding,) = check_file(program, "aarch64", glibc="2.17")
    assert finding.code == "glibc-too-new"
    assert "requires GLIBC_2.34" in finding.message
    assert "__libc_start_main@GLIBC_2.34" in finding.message
    assert "glibc 2.17" in finding.message
    assert check_file(program, "aarch64", glibc="2.34") == []


def test_glibc_floor_from_a_configured_target(corpus: Corpus) -> None:
    old = dataclasses.replace(resolve_target("aarch64"), name="old-board", glibc="2.33")
    assert codes(check_file(corpus.hello("aarch64"), old)) == ["glibc-too-new"]


def test_4k_aligned_binary_for_a_64k_page_kernel(corpus: Corpus) -> None:
    small = corpus.hello("aarch64", "-Wl,-z,max-page-size=4096")
    (finding,) = check_file(small, "aarch64", page_size=65536)
    assert finding.code == "page-align"
    assert finding.facts == {"p_align": 4096, "page_size": 65536}
    assert check_file(small, "aarch64") == []  # fine on 4K pages
    assert check_file(corpus.hello("aarch64"), "aarch64", page_size=65536) == []


def test_armv7_code_for_an_armv5te_target(corpus: Corpus) -> None:
    (finding,) = check_file(corpus.hello("armel", "-march=armv7-a", "-static"), "armel")
    assert finding.code == "isa-level"
    assert "ARMv7" in finding.message and "ARMv5TE" in finding.message
    assert check_file(corpus.hello("armel", "-static"), "armel") == []


def test_frameworks_are_recognised_from_the_binary(corpus: Corpus) -> None:
    from pytest_xarch.collect.identify import identify

    from .corpus import GTEST_LIKE

    path = corpus.builder.build("aarch64", GTEST_LIKE, name="gtest-like")
    assert identify(path, read_facts(path)) == "gtest"
    hello = corpus.hello("aarch64")
    assert identify(hello, read_facts(hello)) == "plain"


def test_a_truncated_go_buildinfo_is_no_reason_to_call_a_binary_corrupt(
    corpus: Corpus, tmp_path: Path
) -> None:
    """Go's build info ends in a varint nothing here uses: a cut one must not matter."""
    import shutil
    import subprocess

    objcopy = shutil.which("aarch64-linux-gnu-objcopy")
    if objcopy is None:
        pytest.skip("aarch64-linux-gnu-objcopy is not installed")
    blob = tmp_path / "buildinfo"
    blob.write_bytes(b"\xff Go buildinf:" + bytes([8, 2]) + b"\0" * 16 + b"\x80")
    program = tmp_path / "go-like"
    subprocess.run([objcopy, "--add-section", f".go.buildinfo={blob}", str(corpus.hello(
        "aarch64", "-static")), str(program)], check=True, timeout=60)
    assert ".go.buildinfo" in read_facts(program).section_names
    assert check_file(program, "aarch64") == []
