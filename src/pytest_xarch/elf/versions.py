"""Symbol versioning: `.gnu.version_r` needs (and the symbols using them), `.gnu.version_d` names.

Decoded by hand with bounds checks on every offset: they are the hot path (thousands
of symbols in a C++ library) and the part a crafted file can make loop.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from .model import VersionNeed
from .model import corrupt as _corrupt

_SHT_DYNSYM = 11
_SHT_VERDEF, _SHT_VERNEED, _SHT_VERSYM = 0x6FFFFFFD, 0x6FFFFFFE, 0x6FFFFFFF
_VER_FLG_BASE, _VER_FLG_WEAK = 0x1, 0x2
SECTION_TYPES = {"SHT_GNU_verdef": _SHT_VERDEF, "SHT_GNU_verneed": _SHT_VERNEED,
                 "SHT_GNU_versym": _SHT_VERSYM, "SHT_DYNSYM": _SHT_DYNSYM}


class VersionTables:
    """The version-table part of the reader (mixed into it; uses its bounded primitives)."""

    order: str
    bits: int

    def _section_bytes(self, header: Mapping[str, Any], what: str) -> bytes:
        raise NotImplementedError

    def _cstring(self, table: bytes, offset: int) -> str:
        raise NotImplementedError

    def _kind(self, header: Mapping[str, Any]) -> int:
        raise NotImplementedError

    def _versions(
        self, sections: list[tuple[str, Mapping[str, Any]]]
    ) -> tuple[tuple[VersionNeed, ...], tuple[str, ...]]:
        """`.gnu.version_r` needs (with the symbols that use them) and `.gnu.version_d` names."""
        by_type: dict[int, tuple[int, Mapping[str, Any]]] = {}
        for index, (_, header) in enumerate(sections):
            kind = self._kind(header)
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

