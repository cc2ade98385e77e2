"""The reader: one mapped ELF file into `ElfFacts`, every read bounded by the file's size.

Headers, segments and sections come from pyelftools; the dynamic array, the
version tables (`versions`) and the build attributes (`attributes`) are decoded
here with bounds checks. A truncated or crafted file raises `ElfError`.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Mapping
from typing import Any, Optional

from .attributes import decode_flags, parse_attributes
from .model import EM_ARM as _EM_ARM
from .model import EM_RISCV as _EM_RISCV
from .model import ElfFacts
from .model import corrupt as _corrupt
from .versions import SECTION_TYPES as _VERSION_TYPES
from .versions import VersionTables

_ET_REL, _ET_EXEC, _ET_DYN, _ET_CORE = 1, 2, 3, 4
_DT_NULL, _DT_NEEDED, _DT_STRSZ, _DT_STRTAB = 0, 1, 10, 5
_DT_SONAME, _DT_RPATH, _DT_RUNPATH, _DT_FLAGS_1 = 14, 15, 29, 0x6FFFFFFB
_DF_1_PIE = 0x08000000
_SHT_NOBITS = 8
_SHT_ARM_ATTRIBUTES = 0x70000003  # also SHT_RISCV_ATTRIBUTES
_MAX_STRING = 4096  # bytes of one string (a path, a symbol name)


class Reader(VersionTables):
    """Decodes one mapped ELF file into `ElfFacts`."""

    def __init__(self, data: mmap.mmap, digest: str) -> None:
        from elftools.common.exceptions import ELFError as PyElfError
        from elftools.elf.elffile import ELFFile

        self.data = data
        self.size = len(data)
        self.digest = digest
        try:
            self.elf = ELFFile(data)  # type: ignore[arg-type]
        except PyElfError as error:
            raise _corrupt(f"unreadable ELF header ({error})") from None
        self.bits = self.elf.elfclass
        self.order = "<" if self.elf.little_endian else ">"
        self.header = self.elf.header

    # -- bounded primitives -------------------------------------------------

    def _slice(self, offset: int, size: int, what: str) -> bytes:
        if offset < 0 or size < 0 or offset + size > self.size:
            raise _corrupt(
                f"{what} lies outside the file (offset {offset}, size {size}, "
                f"file size {self.size}): the file is truncated or damaged"
            )
        return self.data[offset : offset + size]

    def _cstring(self, table: bytes, offset: int) -> str:
        if offset < 0 or offset >= len(table):
            raise _corrupt(f"string offset {offset} outside its string table")
        end = table.find(b"\0", offset, offset + _MAX_STRING)
        if end < 0:
            raise _corrupt(f"unterminated string at offset {offset}")
        return table[offset:end].decode("utf-8", "replace")

    # -- tables -----------------------------------------------------------

    def _check_table(self, offset: int, count: int, entsize: int, minimum: int, what: str) -> None:
        if count and entsize < minimum:
            raise _corrupt(f"{what} entry size {entsize} is smaller than {minimum}")
        if count and (offset <= 0 or offset + count * entsize > self.size):
            raise _corrupt(f"{what} ({count} entries at offset {offset}) lies outside the file")

    def segments(self) -> list[Mapping[str, Any]]:
        count = self.elf.num_segments()
        entsize = 32 if self.bits == 32 else 56
        self._check_table(self.header["e_phoff"], count, self.header["e_phentsize"], entsize,
                          "program header table")
        return [self.elf.get_segment(i).header for i in range(count)]

    def sections(self) -> list[tuple[str, Mapping[str, Any]]]:
        if self.header["e_shoff"] == 0:
            return []
        entsize = 40 if self.bits == 32 else 64
        self._check_table(self.header["e_shoff"], 1, self.header["e_shentsize"], entsize,
                          "section header table")
        count = self.elf.num_sections()
        self._check_table(self.header["e_shoff"], count, self.header["e_shentsize"], entsize,
                          "section header table")
        result: list[tuple[str, Mapping[str, Any]]] = []
        for index in range(count):
            section = self.elf.get_section(index)
            name = section.name if isinstance(section.name, str) else ""
            result.append((name, section.header))
        return result

    def _kind(self, header: Mapping[str, Any]) -> int:
        return _enum_value(header["sh_type"], _SECTION_TYPES)

    def _section_bytes(self, header: Mapping[str, Any], what: str) -> bytes:
        if header["sh_type"] == "SHT_NOBITS" or header["sh_type"] == _SHT_NOBITS:
            return b""
        return self._slice(header["sh_offset"], header["sh_size"], what)

    # -- facts ------------------------------------------------------------

    def facts(self) -> ElfFacts:
        segments = self.segments()
        sections = self.sections()
        interp = self._interp(segments)
        dynamic = self._dynamic(segments)
        dyn_strings = dynamic.pop("strings", {})
        needs, defs = self._versions(sections)
        e_type = _enum_value(self.header["e_type"], {"ET_REL": 1, "ET_EXEC": 2, "ET_DYN": 3,
                                                      "ET_CORE": 4})
        flags_1 = int(dynamic.get("flags_1", 0))
        kind, linkage = _classify(e_type, interp, flags_1, bool(dyn_strings.get("soname")),
                                  bool(dynamic.get("present")))
        machine = _enum_value(self.header["e_machine"], _MACHINES_BY_NAME)
        flags = int(self.header["e_flags"])
        arch = decode_flags(machine, self.bits, flags)
        attributes = self._attributes(sections, machine)
        if machine == _EM_ARM and arch.get("float_abi") is None and "vfp_args" in attributes:
            arch["float_abi"] = "hard" if attributes["vfp_args"] == 1 else "soft"
        return ElfFacts(
            size=self.size,
            digest=self.digest,
            bits=self.bits,
            endian="little" if self.order == "<" else "big",
            machine=machine,
            osabi=_enum_value(self.header["e_ident"]["EI_OSABI"], {"ELFOSABI_SYSV": 0,
                                                                  "ELFOSABI_LINUX": 3}),
            elf_type=e_type,
            flags=flags,
            entry=int(self.header["e_entry"]),
            kind=kind,
            linkage=linkage,
            interp=interp,
            needed=tuple(dyn_strings.get("needed", ())),
            rpath=tuple(dyn_strings.get("rpath", ())),
            runpath=tuple(dyn_strings.get("runpath", ())),
            soname=dyn_strings.get("soname"),
            flags_1=flags_1,
            version_needs=needs,
            version_defs=defs,
            load_aligns=tuple(
                int(s["p_align"]) for s in segments if s["p_type"] in ("PT_LOAD", 1)
            ),
            gnu_stack=_gnu_stack(segments),
            arm_eabi=arch.get("arm_eabi"),
            float_abi=arch.get("float_abi"),
            riscv_rvc=arch.get("riscv_rvc"),
            mips_abi=arch.get("mips_abi"),
            arm_attributes=attributes if machine == _EM_ARM else {},
            riscv_arch=attributes.get("arch") if machine == _EM_RISCV else None,
            section_names=tuple(name for name, _ in sections if name),
        )

    def _interp(self, segments: list[Mapping[str, Any]]) -> Optional[str]:
        for segment in segments:
            if segment["p_type"] in ("PT_INTERP", 3):
                raw = self._slice(segment["p_offset"], min(segment["p_filesz"], _MAX_STRING),
                                  "PT_INTERP")
                return raw.split(b"\0", 1)[0].decode("utf-8", "replace")
        return None

    def _vaddr_to_offset(self, segments: list[Mapping[str, Any]], vaddr: int) -> Optional[int]:
        for segment in segments:
            if segment["p_type"] in ("PT_LOAD", 1):
                start = segment["p_vaddr"]
                if start <= vaddr < start + segment["p_filesz"]:
                    return int(vaddr - start + segment["p_offset"])
        return None

    def _dynamic(self, segments: list[Mapping[str, Any]]) -> dict[str, Any]:
        """DT_NEEDED, DT_SONAME, DT_RPATH/RUNPATH and DT_FLAGS_1 from PT_DYNAMIC."""
        segment = next((s for s in segments if s["p_type"] in ("PT_DYNAMIC", 2)), None)
        if segment is None:
            return {}
        raw = self._slice(segment["p_offset"], segment["p_filesz"], "PT_DYNAMIC")
        fmt = f"{self.order}{'ii' if self.bits == 32 else 'qQ'}"
        entries: list[tuple[int, int]] = []
        whole = len(raw) - len(raw) % struct.calcsize(fmt)
        for tag, value in struct.iter_unpack(fmt, raw[:whole]):
            if tag == _DT_NULL:
                break
            entries.append((tag, value))
        tags = dict(entries)
        result: dict[str, Any] = {"present": True, "flags_1": tags.get(_DT_FLAGS_1, 0)}
        string_tags = {_DT_NEEDED, _DT_SONAME, _DT_RPATH, _DT_RUNPATH}
        if not any(tag in string_tags for tag, _ in entries):
            return result
        if _DT_STRTAB not in tags or _DT_STRSZ not in tags:
            raise _corrupt("PT_DYNAMIC names libraries but has no string table (DT_STRTAB)")
        offset = self._vaddr_to_offset(segments, tags[_DT_STRTAB])
        if offset is None:
            raise _corrupt("DT_STRTAB points outside every loaded segment")
        table = self._slice(offset, tags[_DT_STRSZ], "dynamic string table")
        strings: dict[str, Any] = {"needed": [], "rpath": [], "runpath": []}
        for tag, value in entries:
            if tag == _DT_NEEDED:
                strings["needed"].append(self._cstring(table, value))
            elif tag == _DT_SONAME:
                strings["soname"] = self._cstring(table, value)
            elif tag in (_DT_RPATH, _DT_RUNPATH):
                key = "rpath" if tag == _DT_RPATH else "runpath"
                strings[key].extend(p for p in self._cstring(table, value).split(":") if p)
        result["strings"] = strings
        return result

    def _attributes(
        self, sections: list[tuple[str, Mapping[str, Any]]], machine: int
    ) -> dict[str, Any]:
        if machine not in (_EM_ARM, _EM_RISCV):
            return {}
        for _, header in sections:
            if _enum_value(header["sh_type"], _SECTION_TYPES) == _SHT_ARM_ATTRIBUTES:
                raw = self._section_bytes(header, "build attributes")
                vendor = "aeabi" if machine == _EM_ARM else "riscv"
                return parse_attributes(raw, self.order, vendor, machine)
        return {}

_MACHINES_BY_NAME = {"EM_386": 3, "EM_X86_64": 62, "EM_AARCH64": 183, "EM_ARM": 40,
                     "EM_RISCV": 243, "EM_PPC64": 21, "EM_PPC": 20, "EM_S390": 22,
                     "EM_MIPS": 8, "EM_NONE": 0, "EM_SPARC": 2, "EM_SPARCV9": 43,
                     "EM_LOONGARCH": 258}
_SECTION_TYPES = {**_VERSION_TYPES, "SHT_ARM_ATTRIBUTES": _SHT_ARM_ATTRIBUTES,
                  "SHT_RISCV_ATTRIBUTES": _SHT_ARM_ATTRIBUTES, "SHT_NOBITS": _SHT_NOBITS}


def _enum_value(value: Any, names: Mapping[str, int]) -> int:
    """pyelftools gives known enum values as names and unknown ones as ints."""
    if isinstance(value, int):
        return value
    if value in names:
        return names[value]
    from elftools.elf import enums

    for table in (enums.ENUM_E_MACHINE, enums.ENUM_E_TYPE, enums.ENUM_EI_OSABI):
        if value in table:
            return int(table[value])
    return -1


def _classify(
    e_type: int, interp: Optional[str], flags_1: int, has_soname: bool, has_dynamic: bool
) -> tuple[str, str]:
    """(kind, linkage) from e_type, PT_INTERP and DT_FLAGS_1."""
    if e_type == _ET_REL:
        return "relocatable", "static"
    if e_type == _ET_CORE:
        return "core", "static"
    if e_type == _ET_EXEC:
        return "executable", "dynamic" if interp else "static"
    if e_type == _ET_DYN:
        is_pie = bool(flags_1 & _DF_1_PIE) or (interp is not None and not has_soname)
        if is_pie:
            return "pie", "dynamic" if interp else "static-pie"
        return "shared-object", "dynamic" if has_dynamic else "static"
    return "unknown", "static"


def _gnu_stack(segments: list[Mapping[str, Any]]) -> Optional[str]:
    for segment in segments:
        if segment["p_type"] in ("PT_GNU_STACK", 0x6474E551):
            flags = int(segment["p_flags"])
            return "r" * bool(flags & 4) + "w" * bool(flags & 2) + "x" * bool(flags & 1)
    return None


