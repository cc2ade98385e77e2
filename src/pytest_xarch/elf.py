"""ELF facts via pyelftools. Nothing here ever executes the file.

`read_facts(path)` reads everything static verification needs in one pass and
caches it by file content: headers, segments and sections come from
pyelftools; the dynamic array, the symbol-version tables and the ARM/RISC-V
build attributes are decoded here with bounds checks on every offset, because
they are the hot path (thousands of symbols in a C++ library) and the part a
hostile file can make loop. Every read is bounded by the file's size: a
truncated or crafted file raises `ElfError`, never hangs or allocates
more than the file holds.
"""

from __future__ import annotations

import collections
import hashlib
import mmap
import os
import re
import stat
import struct
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from .errors import SetupError, XarchError

PathLike = Union[str, "os.PathLike[str]"]

# e_machine -> the name a person knows the architecture by.
MACHINE_NAMES: Mapping[int, str] = {
    0: "no machine",
    2: "SPARC",
    3: "x86 (32-bit)",
    8: "MIPS",
    18: "SPARC (32plus)",
    20: "PowerPC (32-bit)",
    21: "PowerPC (64-bit)",
    22: "IBM S/390",
    40: "ARM (32-bit)",
    42: "SuperH",
    43: "SPARC V9",
    50: "IA-64",
    62: "x86-64",
    183: "AArch64",
    243: "RISC-V",
    247: "BPF",
    258: "LoongArch",
}

# ARM Tag_CPU_arch values (ARM IHI 0045, "Addenda to the ARM ELF ABI").
ARM_CPU_ARCH_NAMES: Mapping[int, str] = {
    0: "pre-ARMv4", 1: "ARMv4", 2: "ARMv4T", 3: "ARMv5T", 4: "ARMv5TE", 5: "ARMv5TEJ",
    6: "ARMv6", 7: "ARMv6KZ", 8: "ARMv6T2", 9: "ARMv6K", 10: "ARMv7", 11: "ARMv6-M",
    12: "ARMv6S-M", 13: "ARMv7E-M", 14: "ARMv8-A", 15: "ARMv8-R", 16: "ARMv8-M.baseline",
    17: "ARMv8-M.mainline", 18: "ARMv8.1-A", 19: "ARMv8.2-A", 20: "ARMv8.3-A",
    21: "ARMv8.1-M.mainline", 22: "ARMv9-A",
}

_ET_REL, _ET_EXEC, _ET_DYN, _ET_CORE = 1, 2, 3, 4
_EM_MIPS, _EM_ARM, _EM_RISCV = 8, 40, 243
_DT_NULL, _DT_NEEDED, _DT_STRSZ, _DT_STRTAB = 0, 1, 10, 5
_DT_SONAME, _DT_RPATH, _DT_RUNPATH, _DT_FLAGS_1 = 14, 15, 29, 0x6FFFFFFB
_DF_1_PIE = 0x08000000
_SHT_NOBITS, _SHT_DYNSYM = 8, 11
_SHT_VERDEF, _SHT_VERNEED, _SHT_VERSYM = 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF
_SHT_ARM_ATTRIBUTES, _SHT_RISCV_ATTRIBUTES = 0x70000003, 0x70000003
_VER_FLG_BASE, _VER_FLG_WEAK = 0x1, 0x2

# Bounds that keep a crafted file from costing more than a real one would.
_MAX_STRING = 4096  # bytes of one string (a path, a symbol name)
_CACHE_SIZE = 1024

class ElfError(XarchError):
    """The file's content is not a readable ELF object.

    `code` is the finding code it stands for: `not-elf` (no ELF magic) or
    `corrupt-elf` (headers or tables unreadable, truncated or inconsistent).
    """

    def __init__(self, code: str, detail: str, path: Optional[str] = None) -> None:
        super().__init__(f"{path}: {detail}" if path else detail)
        self.code = code
        self.detail = detail  # the message without the path


@dataclass(frozen=True)
class VersionNeed:
    """One `.gnu.version_r` requirement: `library` must define `version`."""

    library: str
    version: str
    weak: bool = False
    symbols: tuple[str, ...] = ()


@dataclass(frozen=True)
class ElfFacts:
    """What an ELF file says about itself, as plain values (the file is never run)."""

    size: int
    digest: str  # sha256 of the content
    bits: int  # 32 or 64
    endian: str  # "little" or "big"
    machine: int  # e_machine
    osabi: int
    elf_type: int  # e_type
    flags: int  # e_flags
    entry: int
    kind: str  # executable, pie, shared-object, relocatable, core, unknown
    linkage: str  # static, static-pie, dynamic
    interp: Optional[str] = None
    needed: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    soname: Optional[str] = None
    flags_1: int = 0
    version_needs: tuple[VersionNeed, ...] = ()
    version_defs: tuple[str, ...] = ()
    load_aligns: tuple[int, ...] = ()
    gnu_stack: Optional[str] = None  # "rw", "rwx", ... or None when absent
    # Per-architecture decoding of e_flags and build attributes.
    arm_eabi: Optional[int] = None
    float_abi: Optional[str] = None  # ARM hard/soft; RISC-V soft/single/double/quad
    riscv_rvc: Optional[bool] = None
    mips_abi: Optional[str] = None
    arm_attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)
    riscv_arch: Optional[str] = None
    section_names: tuple[str, ...] = ()

    @property
    def machine_name(self) -> str:
        """The architecture in human words, e.g. ``AArch64``."""
        return MACHINE_NAMES.get(self.machine, f"e_machine {self.machine}")

    @property
    def arm_cpu_arch(self) -> Optional[int]:
        """ARM Tag_CPU_arch, or None (not ARM, or no build attributes)."""
        value = self.arm_attributes.get("cpu_arch")
        return value if isinstance(value, int) else None


def version_key(version: str) -> tuple[int, ...]:
    """`GLIBC_2.34` or `2.34` -> (2, 34), for comparisons; () when there are no numbers."""
    match = re.search(r"(\d+(?:\.\d+)*)$", version)
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


# ---------------------------------------------------------------------------
# Cache: (device, inode, size, mtime, ctime) -> content digest -> facts.

_lock = threading.Lock()
_digest_by_stat: dict[tuple[int, ...], str] = {}
_by_digest: collections.OrderedDict[str, Union[ElfFacts, ElfError]] = collections.OrderedDict()


def clear_cache() -> None:
    """Forget every cached read (tests and benchmarks use it)."""
    with _lock:
        _digest_by_stat.clear()
        _by_digest.clear()


def _stat_regular(path: PathLike) -> os.stat_result:
    try:
        info = os.stat(path)
    except OSError as error:
        raise SetupError(f"{os.fspath(path)}: cannot be read ({error.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise SetupError(f"{os.fspath(path)}: is a directory, not an ELF file")
    if not stat.S_ISREG(info.st_mode):
        raise SetupError(f"{os.fspath(path)}: not a regular file")
    return info


def read_facts(path: PathLike) -> ElfFacts:
    """The ELF facts of `path`, cached by file content.

    Raises `ElfError` (code `not-elf` or `corrupt-elf`) for content that is not
    a readable ELF object, `SetupError` when the path cannot be opened or is
    not a regular file.
    """
    info = _stat_regular(path)
    key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    with _lock:
        digest = _digest_by_stat.get(key)
        cached = _by_digest.get(digest) if digest else None
    if cached is None:
        digest, cached = _read_uncached(path, info.st_size)
        with _lock:
            if len(_digest_by_stat) > _CACHE_SIZE * 4:
                _digest_by_stat.clear()
            _digest_by_stat[key] = digest
            _by_digest[digest] = cached
            while len(_by_digest) > _CACHE_SIZE:
                _by_digest.popitem(last=False)
    if isinstance(cached, ElfError):
        raise ElfError(cached.code, cached.detail, os.fspath(path))
    return cached


def _read_uncached(path: PathLike, size: int) -> tuple[str, Union[ElfFacts, ElfError]]:
    """(content digest, facts); content problems come back as an ElfError value."""
    if size < 4:
        return f"short:{size}", ElfError("not-elf", "not an ELF file (too short)")
    try:
        with open(path, "rb") as stream, mmap.mmap(
            stream.fileno(), 0, access=mmap.ACCESS_READ
        ) as data:
            digest = hashlib.sha256(data).hexdigest()
            with _lock:
                known = _by_digest.get(digest)  # the same content under another name
            return digest, known if known is not None else _decode(data, digest)
    except OSError as error:
        raise SetupError(f"{os.fspath(path)}: cannot be read ({error.strerror})") from None


def _decode(data: mmap.mmap, digest: str) -> Union[ElfFacts, ElfError]:
    """Facts of the mapped file (every read is bounded by the mapping's length)."""
    if data[:4] != b"\x7fELF":
        what = "a script" if data[:2] == b"#!" else "not an ELF file"
        return ElfError("not-elf", f"{what} (no ELF magic number)")
    try:
        return _Reader(data, digest).facts()
    except ElfError as error:
        return error
    except Exception as error:  # a crafted file can upset any decoder: report, never crash
        text = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        return _corrupt(f"unreadable ELF structures ({text})")


def read_interp(path: PathLike) -> Optional[str]:
    """The program interpreter (PT_INTERP) of an ELF file, or None for a static one."""
    try:
        return read_facts(path).interp
    except ElfError as error:
        raise SetupError(f"not a readable ELF file: {error}") from None


# ---------------------------------------------------------------------------
# The reader.


def _corrupt(message: str) -> ElfError:
    return ElfError("corrupt-elf", message)


class _Reader:
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

    @staticmethod
    def _cstring(table: bytes, offset: int) -> str:
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
        arch = _decode_flags(machine, self.bits, flags)
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

    def _versions(
        self, sections: list[tuple[str, Mapping[str, Any]]]
    ) -> tuple[tuple[VersionNeed, ...], tuple[str, ...]]:
        """`.gnu.version_r` needs (with the symbols that use them) and `.gnu.version_d` names."""
        by_type: dict[int, tuple[int, Mapping[str, Any]]] = {}
        for index, (_, header) in enumerate(sections):
            kind = _enum_value(header["sh_type"], _SECTION_TYPES)
            if kind in (_SHT_VERNEED, _SHT_VERDEF, _SHT_VERSYM, _SHT_DYNSYM):
                by_type.setdefault(kind, (index, header))
        needs: list[tuple[str, str, int, int]] = []  # library, version, index, flags
        if _SHT_VERNEED in by_type:
            needs = self._verneed(sections, by_type[_SHT_VERNEED][1])
        defs: list[str] = []
        if _SHT_VERDEF in by_type:
            defs = self._verdef(sections, by_type[_SHT_VERDEF][1])
        users: dict[int, list[str]] = {}
        if needs and _SHT_VERSYM in by_type and _SHT_DYNSYM in by_type:
            users = self._version_users(sections, by_type[_SHT_DYNSYM][1],
                                        by_type[_SHT_VERSYM][1], {n[2] for n in needs})
        return (
            tuple(
                VersionNeed(library, version, bool(flags & _VER_FLG_WEAK),
                            tuple(sorted(set(users.get(index, ())))))
                for library, version, index, flags in needs
            ),
            tuple(defs),
        )

    def _linked_strings(
        self, sections: list[tuple[str, Mapping[str, Any]]], header: Mapping[str, Any]
    ) -> bytes:
        link = header["sh_link"]
        if not 0 <= link < len(sections):
            raise _corrupt(f"section link {link} names no section")
        return self._section_bytes(sections[link][1], "linked string table")

    def _verneed(
        self, sections: list[tuple[str, Mapping[str, Any]]], header: Mapping[str, Any]
    ) -> list[tuple[str, str, int, int]]:
        raw = self._section_bytes(header, ".gnu.version_r")
        strings = self._linked_strings(sections, header)
        limit = len(raw) // 16  # no more entries than fit: a crafted count cannot loop
        needs, offset = [], 0
        for _ in range(min(header["sh_info"], limit)):
            if offset + 16 > len(raw):
                raise _corrupt(".gnu.version_r entry outside its section")
            _, count, file_name, aux, next_entry = struct.unpack_from(
                f"{self.order}HHIII", raw, offset)
            library = self._cstring(strings, file_name)
            aux_offset = offset + aux
            for _ in range(min(count, limit)):
                if aux_offset + 16 > len(raw):
                    raise _corrupt(".gnu.version_r auxiliary entry outside its section")
                _, flags, other, name, aux_next = struct.unpack_from(
                    f"{self.order}IHHII", raw, aux_offset)
                needs.append((library, self._cstring(strings, name), other & 0x7FFF, flags))
                if not aux_next:
                    break
                aux_offset += aux_next
            if not next_entry:
                break
            offset += next_entry
        return needs

    def _verdef(
        self, sections: list[tuple[str, Mapping[str, Any]]], header: Mapping[str, Any]
    ) -> list[str]:
        raw = self._section_bytes(header, ".gnu.version_d")
        strings = self._linked_strings(sections, header)
        defs, offset = [], 0
        for _ in range(min(header["sh_info"], len(raw) // 20)):
            if offset + 20 > len(raw):
                raise _corrupt(".gnu.version_d entry outside its section")
            _, flags, _, count, _, aux, next_entry = struct.unpack_from(
                f"{self.order}HHHHIII", raw, offset)
            if count and not flags & _VER_FLG_BASE:
                if offset + aux + 8 > len(raw):
                    raise _corrupt(".gnu.version_d auxiliary entry outside its section")
                (name,) = struct.unpack_from(f"{self.order}I", raw, offset + aux)
                defs.append(self._cstring(strings, name))
            if not next_entry:
                break
            offset += next_entry
        return defs

    def _version_users(
        self,
        sections: list[tuple[str, Mapping[str, Any]]],
        dynsym: Mapping[str, Any],
        versym: Mapping[str, Any],
        wanted: set[int],
    ) -> dict[int, list[str]]:
        """Version index -> names of the undefined dynamic symbols bound to it."""
        symbols = self._section_bytes(dynsym, ".dynsym")
        versions = self._section_bytes(versym, ".gnu.version")
        strings = self._linked_strings(sections, dynsym)
        entsize = 16 if self.bits == 32 else 24
        count = min(len(symbols) // entsize, len(versions) // 2)
        indices = struct.unpack_from(f"{self.order}{count}H", versions)
        if self.bits == 32:
            name_at, shndx_at = 0, 14
        else:
            name_at, shndx_at = 0, 6
        name_fmt, shndx_fmt = f"{self.order}I", f"{self.order}H"
        users: dict[int, list[str]] = {}
        for number in range(1, count):
            index = indices[number] & 0x7FFF
            if index not in wanted:
                continue
            base = number * entsize
            (shndx,) = struct.unpack_from(shndx_fmt, symbols, base + shndx_at)
            if shndx != 0:
                continue
            (name,) = struct.unpack_from(name_fmt, symbols, base + name_at)
            users.setdefault(index, []).append(self._cstring(strings, name))
        return users

    def _attributes(
        self, sections: list[tuple[str, Mapping[str, Any]]], machine: int
    ) -> dict[str, Any]:
        if machine not in (_EM_ARM, _EM_RISCV):
            return {}
        for _, header in sections:
            if _enum_value(header["sh_type"], _SECTION_TYPES) == _SHT_ARM_ATTRIBUTES:
                raw = self._section_bytes(header, "build attributes")
                vendor = "aeabi" if machine == _EM_ARM else "riscv"
                return _parse_attributes(raw, self.order, vendor, machine)
        return {}

# ---------------------------------------------------------------------------
# Decoding helpers.

_MACHINES_BY_NAME = {"EM_386": 3, "EM_X86_64": 62, "EM_AARCH64": 183, "EM_ARM": 40,
                     "EM_RISCV": 243, "EM_PPC64": 21, "EM_PPC": 20, "EM_S390": 22,
                     "EM_MIPS": 8, "EM_NONE": 0, "EM_SPARC": 2, "EM_SPARCV9": 43,
                     "EM_LOONGARCH": 258}
_SECTION_TYPES = {"SHT_GNU_verdef": _SHT_VERDEF, "SHT_GNU_verneed": _SHT_VERNEED,
                  "SHT_GNU_versym": _SHT_VERSYM, "SHT_DYNSYM": _SHT_DYNSYM,
                  "SHT_ARM_ATTRIBUTES": _SHT_ARM_ATTRIBUTES,
                  "SHT_RISCV_ATTRIBUTES": _SHT_RISCV_ATTRIBUTES, "SHT_NOBITS": _SHT_NOBITS}


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


def _decode_flags(machine: int, bits: int, flags: int) -> dict[str, Any]:
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


def _gnu_stack(segments: list[Mapping[str, Any]]) -> Optional[str]:
    for segment in segments:
        if segment["p_type"] in ("PT_GNU_STACK", 0x6474E551):
            flags = int(segment["p_flags"])
            return "r" * bool(flags & 4) + "w" * bool(flags & 2) + "x" * bool(flags & 1)
    return None


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


def _parse_attributes(raw: bytes, order: str, vendor: str, machine: int) -> dict[str, Any]:
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


def iter_elf_files(root: Path) -> Iterator[Path]:
    """Regular files under `root` (not following symlinks) that start with the ELF magic."""
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            try:
                with open(path, "rb") as stream:
                    if stream.read(4) == b"\x7fELF":
                        yield path
            except OSError:
                continue
