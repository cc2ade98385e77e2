"""The ELF reader on synthetic files: facts, bounds, errors and the content cache."""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from pathlib import Path
from typing import Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_xarch import elf
from pytest_xarch.elf import ElfError, read_facts, read_interp, version_key
from pytest_xarch.elf.attributes import parse_attributes
from pytest_xarch.errors import SetupError

PT_LOAD, PT_INTERP, PT_GNU_STACK = 1, 3, 0x6474E551


def make_elf(
    *,
    bits: int = 64,
    endian: str = "little",
    machine: int = 183,
    e_type: int = 2,
    flags: int = 0,
    interp: Optional[str] = None,
    aligns: tuple[int, ...] = (0x10000,),
    tail: bytes = b"",
) -> bytes:
    """A minimal ELF image: header, program headers (PT_INTERP, PT_LOADs), no sections."""
    order = "<" if endian == "little" else ">"
    ehsize, phentsize = (64, 56) if bits == 64 else (52, 32)
    phdrs: list[tuple[int, int, int, int]] = []  # type, offset, size, align
    count = len(aligns) + (1 if interp else 0) + 1
    data_offset = ehsize + count * phentsize
    interp_bytes = interp.encode() + b"\0" if interp else b""
    if interp:
        phdrs.append((PT_INTERP, data_offset, len(interp_bytes), 1))
    for align in aligns:
        phdrs.append((PT_LOAD, 0, data_offset + len(interp_bytes), align))
    phdrs.append((PT_GNU_STACK, 0, 0, 16))
    ident = b"\x7fELF" + bytes([1 if bits == 32 else 2, 1 if endian == "little" else 2, 1, 0])
    ident += b"\0" * 8
    if bits == 64:
        header = struct.pack(f"{order}16sHHIQQQIHHHHHH", ident, e_type, machine, 1, 0x400000,
                             ehsize, 0, flags, ehsize, phentsize, len(phdrs), 0, 0, 0)
    else:
        header = struct.pack(f"{order}16sHHIIIIIHHHHHH", ident, e_type, machine, 1, 0x10000,
                             ehsize, 0, flags, ehsize, phentsize, len(phdrs), 0, 0, 0)
    table = b""
    for p_type, offset, size, align in phdrs:
        p_flags = 6 if p_type == PT_GNU_STACK else 5
        if bits == 64:
            table += struct.pack(f"{order}IIQQQQQQ", p_type, p_flags, offset, 0, 0, size, size,
                                 align)
        else:
            table += struct.pack(f"{order}IIIIIIII", p_type, offset, 0, 0, size, size, p_flags,
                                 align)
    return header + table + interp_bytes + tail


def write(tmp_path: Path, data: bytes, name: str = "prog") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_facts_of_a_synthetic_static_aarch64_executable(tmp_path: Path) -> None:
    facts = read_facts(write(tmp_path, make_elf()))
    assert (facts.machine, facts.bits, facts.endian) == (183, 64, "little")
    assert (facts.kind, facts.linkage) == ("executable", "static")
    assert facts.machine_name == "AArch64"
    assert facts.load_aligns == (0x10000,)
    assert facts.gnu_stack == "rw"
    assert facts.interp is None and facts.needed == ()


def test_interp_makes_it_dynamic_and_read_interp_still_works(tmp_path: Path) -> None:
    path = write(tmp_path, make_elf(interp="/lib/ld-linux-aarch64.so.1"))
    assert read_facts(path).linkage == "dynamic"
    assert read_interp(path) == "/lib/ld-linux-aarch64.so.1"


def test_big_endian_32_bit(tmp_path: Path) -> None:
    facts = read_facts(write(tmp_path, make_elf(bits=32, endian="big", machine=20)))
    assert (facts.bits, facts.endian, facts.machine_name) == (32, "big", "PowerPC (32-bit)")


@pytest.mark.parametrize(
    ("flags", "expected"),
    [(0x05000400, "hard"), (0x05000200, "soft"), (0x05000000, None), (0x04000000, None)],
)
def test_arm_float_abi_from_e_flags(tmp_path: Path, flags: int, expected: Optional[str]) -> None:
    facts = read_facts(write(tmp_path, make_elf(bits=32, machine=40, flags=flags)))
    assert facts.float_abi == expected
    assert facts.arm_eabi == flags >> 24


@pytest.mark.parametrize(
    ("flags", "abi", "rvc"),
    [(0x5, "double", True), (0x0, "soft", False), (0x3, "single", True), (0x6, "quad", False)],
)
def test_riscv_float_abi_and_rvc(tmp_path: Path, flags: int, abi: str, rvc: bool) -> None:
    facts = read_facts(write(tmp_path, make_elf(machine=243, flags=flags)))
    assert (facts.float_abi, facts.riscv_rvc) == (abi, rvc)


def test_mips_abi(tmp_path: Path) -> None:
    assert read_facts(write(tmp_path, make_elf(bits=32, machine=8, flags=0x1000))).mips_abi == "o32"
    assert read_facts(write(tmp_path, make_elf(machine=8, flags=0), "n64")).mips_abi == "n64"


def test_arm_attributes_parser() -> None:
    tags = bytes([5]) + b"7-A\0" + bytes([6, 10, 7, 65, 10, 3, 12, 1, 28, 1])
    sub = bytes([1]) + struct.pack("<I", 5 + len(tags)) + tags
    vendor = b"aeabi\0"
    section = b"A" + struct.pack("<I", 4 + len(vendor) + len(sub)) + vendor + sub
    parsed = parse_attributes(section, "<", "aeabi", 40)
    assert parsed == {"cpu_name": "7-A", "cpu_arch": 10, "cpu_arch_profile": 65, "fp_arch": 3,
                      "simd_arch": 1, "vfp_args": 1}


@pytest.mark.parametrize("length", [0, 3, 0xFFFFFFFF])
def test_arm_attributes_with_hostile_lengths_are_corrupt(length: int) -> None:
    section = b"A" + struct.pack("<I", length) + b"aeabi\0"
    with pytest.raises(ElfError) as caught:
        parse_attributes(section, "<", "aeabi", 40)
    assert caught.value.code == "corrupt-elf"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"#!/bin/sh\necho hi\n", "not-elf"),
        (b"just text", "not-elf"),
        (b"\x7fEL", "not-elf"),
        (b"\x7fELF", "corrupt-elf"),
        (b"\x7fELF\x03\x01" + b"\0" * 60, "corrupt-elf"),
        (b"\x7fELF\x02\x01\x01" + b"\0" * 30, "corrupt-elf"),
    ],
)
def test_unreadable_content_raises_one_error_type(
    tmp_path: Path, content: bytes, code: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ElfError) as caught:
        read_facts(path)
    assert caught.value.code == code
    assert str(caught.value).startswith(str(path))


def test_empty_file_is_not_elf(tmp_path: Path) -> None:
    with pytest.raises(ElfError, match="too short"):
        read_facts(write(tmp_path, b""))


def test_program_headers_past_the_end_are_corrupt(tmp_path: Path) -> None:
    data = bytearray(make_elf())
    struct.pack_into("<H", data, 56, 0xFFF0)  # e_phnum far beyond the file
    with pytest.raises(ElfError, match="outside the file") as caught:
        read_facts(write(tmp_path, bytes(data)))
    assert caught.value.code == "corrupt-elf"


def test_truncated_interp_is_corrupt(tmp_path: Path) -> None:
    data = make_elf(interp="/lib/ld-linux-aarch64.so.1")
    with pytest.raises(ElfError):
        read_facts(write(tmp_path, data[:-10]))


@pytest.mark.parametrize("make", ["missing", "directory", "fifo"])
def test_paths_that_cannot_be_read_raise_setup_error(tmp_path: Path, make: str) -> None:
    path = tmp_path / "thing"
    if make == "directory":
        path.mkdir()
    elif make == "fifo":
        os.mkfifo(path)  # opening it would block: it must be refused unopened
    with pytest.raises(SetupError):
        read_facts(path)


def test_second_read_is_served_from_the_cache(tmp_path: Path) -> None:
    path = write(tmp_path, make_elf())
    first = read_facts(path)
    assert read_facts(path) is first
    copy = tmp_path / "copy"
    shutil.copyfile(path, copy)
    assert read_facts(copy) is first  # same content, other file: still one decode


def test_changed_content_is_read_again(tmp_path: Path) -> None:
    path = write(tmp_path, make_elf(machine=183))
    assert read_facts(path).machine == 183
    replacement = write(tmp_path, make_elf(machine=62), "next")
    os.replace(replacement, path)
    assert read_facts(path).machine == 62


def test_errors_are_cached_too(tmp_path: Path) -> None:
    path = write(tmp_path, b"not an elf at all")
    for _ in range(2):
        with pytest.raises(ElfError, match="no ELF magic"):
            read_facts(path)


def test_version_key() -> None:
    assert version_key("GLIBC_2.34") == (2, 34)
    assert version_key("GLIBCXX_3.4.30") > version_key("GLIBCXX_3.4.9")
    assert version_key("GLIBC_PRIVATE") == ()


def test_iter_elf_files_skips_non_elf_and_symlinks(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", make_elf(), "a.out")
    write(tmp_path, b"text", "README")
    (tmp_path / "link").symlink_to(tmp_path / "sub" / "a.out")
    assert [p.name for p in elf.iter_elf_files(tmp_path)] == ["a.out"]


# -- fuzzing: no exception but ElfError escapes, whatever the bytes ------------------

_SEEDS = [make_elf(interp="/lib/ld-linux-aarch64.so.1"), make_elf(bits=32, machine=40)]
_HOST_BINARY = Path("/bin/true")
if _HOST_BINARY.is_file():
    _SEEDS.append(_HOST_BINARY.read_bytes())

_FIELD_VALUES = st.sampled_from([0, 1, 0x7F, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 2**63 - 1,
                                 2**64 - 1])


def _read_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz"
        path.write_bytes(data)
        try:
            facts = read_facts(path)
        except ElfError as error:
            assert error.code in {"not-elf", "corrupt-elf"}
        else:
            assert facts.size == len(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(range(len(_SEEDS))),
    cut=st.one_of(st.none(), st.integers(min_value=0, max_value=4096)),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), max_size=12),
    fields=st.lists(st.tuples(st.integers(min_value=0), _FIELD_VALUES), max_size=4),
)
def test_fuzzed_files_never_escape_the_reader(
    seed: int, cut: Optional[int], flips: list[tuple[int, int]], fields: list[tuple[int, int]]
) -> None:
    data = bytearray(_SEEDS[seed])
    for position, value in flips:  # anywhere: headers, tables, strings
        data[position % len(data)] = value
    for position, value in fields:  # plausible header/table fields set to extreme values
        # Half of them in the headers at the start, half anywhere (section headers sit last).
        where = position % min(512, len(data) - 8) if position % 2 else position % (len(data) - 8)
        struct.pack_into("<Q", data, where, value)
    if cut is not None:
        data = data[: len(data) - cut] if cut % 2 else data[:cut]
    _read_bytes(bytes(data))


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_behind_an_elf_magic(data: bytes) -> None:
    _read_bytes(b"\x7fELF" + data)
