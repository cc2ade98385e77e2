"""Target table and name resolution: every spelling people use, unknown names, binfmt magic."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from pytest_xarch.errors import UnknownTargetError
from pytest_xarch.targets import (
    Target,
    binfmt_magic,
    binfmt_mask,
    builtin_registry,
    host_target,
    resolve_target,
)

ALIASES = [
    # short names and case-insensitivity
    ("aarch64", "aarch64"),
    ("AArch64", "aarch64"),
    ("x86_64", "x86_64"),
    ("armv7", "armv7"),
    # GNU triples, with and without vendor
    ("aarch64-linux-gnu", "aarch64"),
    ("aarch64-unknown-linux-gnu", "aarch64"),
    ("AARCH64-UNKNOWN-LINUX-GNU", "aarch64"),
    ("arm-linux-gnueabihf", "armv7"),
    ("arm-unknown-linux-gnueabihf", "armv7"),
    ("arm-linux-gnueabi", "armel"),
    ("riscv64-linux-gnu", "riscv64"),
    ("riscv64-unknown-linux-gnu", "riscv64"),
    ("powerpc64le-linux-gnu", "ppc64le"),
    ("s390x-ibm-linux-gnu", "s390x"),
    ("i686-pc-linux-gnu", "i686"),
    ("x86_64-pc-linux-gnu", "x86_64"),
    ("aarch64-linux-musl", "aarch64-musl"),
    # Rust triples
    ("riscv64gc-unknown-linux-gnu", "riscv64"),
    ("armv7-unknown-linux-gnueabihf", "armv7"),
    ("x86_64-unknown-linux-gnu", "x86_64"),
    ("i686-unknown-linux-gnu", "i686"),
    ("armv7-unknown-linux-musleabihf", "armv7-musl"),
    ("riscv64gc-unknown-linux-musl", "riscv64-musl"),
    ("aarch64-unknown-linux-musl", "aarch64-musl"),
    # Debian architectures
    ("arm64", "aarch64"),
    ("armhf", "armv7"),
    ("armel", "armel"),
    ("ppc64el", "ppc64le"),
    ("amd64", "x86_64"),
    ("i386", "i686"),
    ("ARMHF", "armv7"),
    # Go GOOS/GOARCH
    ("linux/arm64", "aarch64"),
    ("linux/arm", "armv7"),
    ("linux/riscv64", "riscv64"),
    ("linux/386", "i686"),
    ("linux/amd64", "x86_64"),
    ("Linux/ARM64", "aarch64"),
    # Docker platforms
    ("linux/arm/v7", "armv7"),
    ("linux/arm64/v8", "aarch64"),
    ("linux/arm/v5", "armel"),
    ("linux/ppc64le", "ppc64le"),
    ("LINUX/ARM/V7", "armv7"),
    # whitespace around a name
    ("  aarch64 ", "aarch64"),
]


@pytest.mark.parametrize(("spelling", "expected"), ALIASES)
def test_every_spelling_resolves(spelling: str, expected: str) -> None:
    assert resolve_target(spelling).name == expected


def test_builtin_targets_are_present_in_table_order() -> None:
    names = builtin_registry().names()
    for required in ("aarch64", "armv7", "armel", "riscv64", "ppc64le", "s390x", "i686", "x86_64",
                     "aarch64-musl", "armv7-musl", "riscv64-musl", "x86_64-musl"):
        assert required in names
    assert names[0] == "aarch64"


def test_a_target_resolves_to_itself() -> None:
    target = resolve_target("aarch64")
    assert resolve_target(target) is target
    assert str(target) == "aarch64"


def _spellings(target: Target) -> set[str]:
    values = (target.name, target.triple, target.rust, target.go, target.docker,
              target.debian_arch, *target.aliases)
    spellings = {value.strip().lower() for value in values if value}
    if target.cpu:  # a CPU profile keeps its base's triple and tool names; they name the base
        base = next(t for t in builtin_registry() if t.triple == target.triple and not t.cpu)
        spellings -= _spellings(base)
    return spellings


def test_no_spelling_names_two_targets() -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for target in builtin_registry():
        for spelling in _spellings(target):
            owners[spelling].add(target.name)
    shared = {spelling: names for spelling, names in owners.items() if len(names) > 1}
    assert shared == {}


def test_every_spelling_of_every_target_resolves_back_to_it() -> None:
    registry = builtin_registry()
    for target in registry:
        for spelling in _spellings(target):
            assert registry.resolve(spelling).name == target.name, spelling


def test_unknown_name_lists_known_targets_and_suggests_the_nearest() -> None:
    with pytest.raises(UnknownTargetError) as caught:
        resolve_target("aarch46")
    message = str(caught.value)
    assert "unknown target 'aarch46'" in message
    assert "Did you mean 'aarch64'?" in message
    for name in builtin_registry().names():
        assert name in message
    assert "[tool.pytest_xarch.target.<name>]" in message


def test_unknown_name_without_a_near_match_has_no_suggestion() -> None:
    with pytest.raises(UnknownTargetError) as caught:
        resolve_target("zzzzzzzz")
    assert "Did you mean" not in str(caught.value)


def test_target_facts_match_the_elf_reference() -> None:
    # DESIGN.md section 5: e_machine, class and byte order of each target.
    facts = {
        "aarch64": (183, 64, "little"), "armv7": (40, 32, "little"),
        "armel": (40, 32, "little"), "riscv64": (243, 64, "little"),
        "ppc64le": (21, 64, "little"), "s390x": (22, 64, "big"),
        "i686": (3, 32, "little"), "x86_64": (62, 64, "little"),
    }
    for name, expected in facts.items():
        target = resolve_target(name)
        assert (target.machine, target.bits, target.endian) == expected, name
    assert resolve_target("armv7").float_abi == "hard"
    assert resolve_target("armel").float_abi == "soft"


def test_baseline_cpu_is_never_qemus_max() -> None:
    for target in builtin_registry():
        assert target.baseline_cpu not in {"", "max", "host"}, target.name
        assert target.emulation_cpu == target.baseline_cpu


def test_musl_variants_keep_the_machine_and_change_the_libc() -> None:
    glibc, musl = resolve_target("aarch64"), resolve_target("aarch64-musl")
    assert (musl.machine, musl.qemu, musl.baseline_cpu) == (
        glibc.machine, glibc.qemu, glibc.baseline_cpu)
    assert musl.libc == "musl"
    assert musl.loader == "/lib/ld-musl-aarch64.so.1"


def test_sysroot_candidates_follow_the_triple_unless_one_is_set() -> None:
    import dataclasses

    target = resolve_target("aarch64")
    assert target.sysroot_candidates[0] == "/usr/aarch64-linux-gnu"
    pinned = dataclasses.replace(target, sysroot="/opt/root")
    assert pinned.sysroot_candidates == ("/opt/root",)


# Debian's /usr/share/binfmts/qemu-aarch64 (package qemu-user-static, bookworm).
DEBIAN_AARCH64_MAGIC = (
    b"\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00"
)
DEBIAN_AARCH64_MASK = (
    b"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff"
)
DEBIAN_S390X_MAGIC = (
    b"\x7f\x45\x4c\x46\x02\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x16"
)


def _matches(header: bytes, magic: bytes, mask: bytes) -> bool:
    return all((h & m) == (g & m) for h, g, m in zip(header, magic, mask))


def test_binfmt_magic_is_debians_for_aarch64() -> None:
    target = resolve_target("aarch64")
    assert len(binfmt_magic(target)) == len(binfmt_mask(target)) == 20
    assert binfmt_magic(target) == DEBIAN_AARCH64_MAGIC
    # Both masks accept the same real headers: ET_EXEC and ET_DYN (PIE) aarch64 files.
    pie = DEBIAN_AARCH64_MAGIC[:16] + b"\x03\x00" + DEBIAN_AARCH64_MAGIC[18:]
    for header in (DEBIAN_AARCH64_MAGIC, pie):
        assert _matches(header, binfmt_magic(target), binfmt_mask(target))
        assert _matches(header, DEBIAN_AARCH64_MAGIC, DEBIAN_AARCH64_MASK)


def test_binfmt_magic_is_big_endian_for_s390x() -> None:
    assert binfmt_magic(resolve_target("s390x")) == DEBIAN_S390X_MAGIC


def test_binfmt_masks_tell_targets_apart() -> None:
    targets = [t for t in builtin_registry() if t.libc == "glibc"]
    for target in targets:
        for other in targets:
            same_isa = (other.machine, other.bits, other.endian) == (
                target.machine, target.bits, target.endian)
            assert _matches(binfmt_magic(other), binfmt_magic(target), binfmt_mask(target)) == \
                same_isa, (target.name, other.name)


def test_host_target_is_a_builtin_target_this_host_executes() -> None:
    from pytest_xarch.targets import host_executes

    host = host_target()
    assert host.name in builtin_registry().names()
    assert host_executes(host)


def test_identity_from_the_elf_header_alone(tmp_path: Path) -> None:
    from pytest_xarch.targets import elf_headers, has_target_identity

    aarch64, armv7 = resolve_target("aarch64"), resolve_target("armv7")
    program = tmp_path / "prog"
    program.write_bytes(elf_headers(aarch64)[0] + b"\0" * 44)
    assert has_target_identity(program, aarch64)
    assert not has_target_identity(program, armv7)
    program.write_bytes(b"#!/bin/sh\n")
    assert not has_target_identity(program, aarch64)
    assert not has_target_identity(tmp_path / "absent", aarch64)


def test_multiarch_names() -> None:
    from pytest_xarch.targets import multiarch_names

    assert multiarch_names(resolve_target("aarch64")) == ["aarch64-linux-gnu"]
    assert multiarch_names(resolve_target("i686")) == ["i686-linux-gnu", "i386-linux-gnu"]
