"""Per-architecture facts: ARM, RISC-V and MIPS e_flags, and the ARM/RISC-V build attributes."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from .model import EM_ARM as _EM_ARM
from .model import EM_MIPS as _EM_MIPS
from .model import EM_RISCV as _EM_RISCV
from .model import corrupt as _corrupt


def decode_flags(machine: int, bits: int, flags: int) -> dict[str, Any]:
    """e_flags decoded for ARM, RISC-V and MIPS."""
    if machine == _EM_ARM:
        eabi = (flags >> 24) & 0xFF
        float_abi = None
        if eabi >= 5:
            float_abi = "hard" if flags & 0x400 else "soft" if flags & 0x200 else None
        return {"arm_eabi": eabi, "float_abi": float_abi}
    if machine == _EM_RISCV:
        float_abi = {0: "soft", 2: "single", 4: "double", 6: "quad"}[flags & 0x6]
        return {"float_abi": float_abi, "riscv_rvc": bool(flags & 0x1)}
    if machine == _EM_MIPS:
        abi = {0x1000: "o32", 0x2000: "o64", 0x3000: "eabi32", 0x4000: "eabi64"}.get(
            flags & 0xF000)
        if abi is None:
            abi = "n32" if flags & 0x20 else "n64" if bits == 64 else "o32"
        return {"mips_abi": abi}
    return {}


def _uleb(raw: bytes, offset: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while offset < end and shift < 64:
        byte = raw[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, offset
    raise _corrupt("build attribute number runs past its section")


_ARM_ATTRIBUTE_NAMES = {5: "cpu_name", 6: "cpu_arch", 7: "cpu_arch_profile", 10: "fp_arch",
                        12: "simd_arch", 28: "vfp_args"}
_RISCV_ATTRIBUTE_NAMES = {5: "arch", 4: "stack_align"}


def parse_attributes(raw: bytes, order: str, vendor: str, machine: int) -> dict[str, Any]:
    """File-scope attributes of the `vendor` subsection of .ARM/.riscv.attributes."""
    names = _ARM_ATTRIBUTE_NAMES if machine == _EM_ARM else _RISCV_ATTRIBUTE_NAMES
    if not raw or raw[0] != ord("A"):
        return {}
    result: dict[str, Any] = {}
    offset = 1
    while offset + 4 <= len(raw):
        (length,) = struct.unpack_from(f"{order}I", raw, offset)
        if length < 4 or offset + length > len(raw):
            raise _corrupt("build attributes subsection length outside its section")
        end = offset + length
        name_end = raw.find(b"\0", offset + 4, end)
        if name_end >= 0 and raw[offset + 4 : name_end] == vendor.encode():
            _parse_subsection(raw, name_end + 1, end, order, names, result, machine)
        offset = end
    return result


def _parse_subsection(
    raw: bytes, offset: int, end: int, order: str, names: Mapping[int, str],
    result: dict[str, Any], machine: int,
) -> None:
    while offset + 5 <= end:
        scope = raw[offset]
        (length,) = struct.unpack_from(f"{order}I", raw, offset + 1)
        if length < 5 or offset + length > end:
            raise _corrupt("build attributes sub-subsection length outside its section")
        if scope == 1:  # Tag_File: attributes of the whole file
            _parse_tags(raw, offset + 5, offset + length, names, result, machine)
        offset += length


def _parse_tags(
    raw: bytes, offset: int, end: int, names: Mapping[int, str], result: dict[str, Any],
    machine: int,
) -> None:
    string_tags = {4, 5, 67} if machine == _EM_ARM else {5}
    while offset < end:
        tag, offset = _uleb(raw, offset, end)
        if tag in string_tags or (tag > 32 and tag % 2 == 1):
            stop = raw.find(b"\0", offset, end)
            if stop < 0:
                raise _corrupt("unterminated build attribute string")
            value: Any = raw[offset:stop].decode("utf-8", "replace")
            offset = stop + 1
        elif machine == _EM_ARM and tag == 32:  # Tag_compatibility: number, then a name
            value, offset = _uleb(raw, offset, end)
            stop = raw.find(b"\0", offset, end)
            offset = end if stop < 0 else stop + 1
        elif machine == _EM_ARM and tag == 65:  # Tag_also_compatible_with: stop here
            return
        else:
            value, offset = _uleb(raw, offset, end)
        if tag in names:
            result[names[tag]] = value


