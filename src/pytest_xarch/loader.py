"""How the target's glibc loader will find libraries, predicted without running anything.

For each DT_NEEDED name without a slash, in the loader's own order:

1. DT_RPATH of the object (only when it has no DT_RUNPATH), then of the objects
   that loaded it, up to the program;
2. LD_LIBRARY_PATH;
3. DT_RUNPATH of the object;
4. `/etc/ld.so.cache`, as the guest reads it (entries of the target's kind only);
5. the loader's built-in directories: the Debian multiarch ones first
   (`/lib/<triple>`, `/usr/lib/<triple>`), then `/lib64`, `/usr/lib64` for
   64-bit targets, then `/lib`, `/usr/lib`.

`$ORIGIN` is the directory of the object. Every path goes through a `GuestFS`,
so it is mapped the way QEMU's `-L` maps it (the prefix first, then the host).
A candidate is taken only when it is an ELF of the program's machine, class and
byte order, as the loader skips others.
"""

from __future__ import annotations

import functools
import os
import re
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .elf import ElfError, ElfFacts, read_facts, version_key
from .errors import SetupError
from .guestfs import GuestFS
from .targets import Target, multiarch_names

_MAX_OBJECTS = 512  # libraries followed transitively for one binary
_BANNER = re.compile(rb"\(([^()\n\0]{1,80})\) (?:[a-z]+ )?release version (\d+\.\d+)")
_CACHE_MAGIC = b"glibc-ld.so.cache1.1"
_OLD_CACHE_MAGIC = b"ld.so-1.7.0"
# ld.so.cache entry flags the target's loader accepts (glibc's _DL_CACHE_DEFAULT_ID).
_ELF_LIBC6 = 0x0003
_CACHE_KINDS = {
    (62, 64): 0x0300, (183, 64): 0x0A00, (22, 64): 0x0400, (21, 64): 0x0500, (3, 32): 0x0000,
}


def builtin_dirs(target: Target) -> list[str]:
    """The loader's built-in search directories (guest paths), in its order."""
    dirs = [f"{prefix}/{name}" for name in multiarch_names(target)
            for prefix in ("/lib", "/usr/lib")]
    if target.bits == 64:
        dirs += ["/lib64", "/usr/lib64"]
    return [*dirs, "/lib", "/usr/lib"]


def _cache_kind(target: Target) -> Optional[int]:
    if target.machine == 40:  # ARM: hard- or soft-float
        return _ELF_LIBC6 | (0x0900 if target.float_abi == "hard" else 0x0000)
    if target.machine == 243:
        return _ELF_LIBC6 | (0x1000 if target.float_abi == "double" else 0x0F00)
    kind = _CACHE_KINDS.get((target.machine, target.bits))
    return None if kind is None else _ELF_LIBC6 | kind


def read_cache(path: Path, target: Target) -> dict[str, str]:
    """`/etc/ld.so.cache` entries for the target's kind: library name -> guest path.

    The new format (glibc >= 2.32 writes only it) is read; anything else, or a
    damaged file, gives no entries, as the loader then ignores the cache.
    """
    try:
        info = path.stat()
    except OSError:
        return {}
    return dict(_cache_entries(str(path), info.st_size, info.st_mtime_ns, _cache_kind(target)))


@functools.lru_cache(maxsize=32)
def _cache_entries(path: str, size: int, mtime: int, kind: Optional[int]
                   ) -> tuple[tuple[str, str], ...]:
    if kind is None:
        return ()
    try:
        with open(path, "rb") as stream:
            data = stream.read(64 << 20)
    except OSError:
        return ()
    start = data.find(_CACHE_MAGIC) if data.startswith(_OLD_CACHE_MAGIC) else 0
    if start < 0 or not data.startswith(_CACHE_MAGIC, start):
        return ()
    try:
        count, _ = struct.unpack_from("<II", data, start + 20)
        base = start + 48
        found: dict[str, str] = {}
        for index in range(min(count, (len(data) - base) // 24)):
            flags, key, value, _, _ = struct.unpack_from("<iIIIQ", data, base + index * 24)
            if flags & 0xFFFF != kind:
                continue
            name = _string(data, start + key)
            found.setdefault(name, _string(data, start + value))
    except (struct.error, ValueError):
        return ()
    return tuple(found.items())


def clear_caches() -> None:
    """Forget what was read of ld.so.cache files and glibc banners (benchmarks, tests)."""
    _cache_entries.cache_clear()
    _build_of.cache_clear()


def _string(data: bytes, offset: int) -> str:
    end = data.index(b"\0", offset, offset + 4096)
    return data[offset:end].decode("utf-8", "replace")


def glibc_build(path: Path) -> Optional[str]:
    """The glibc build a loader or libc.so.6 belongs to: `Debian GLIBC 2.36-8 (2.36)`."""
    try:
        info = path.stat()
    except OSError:
        return None
    return _build_of(str(path.resolve()), info.st_size, info.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _build_of(path: str, size: int, mtime: int) -> Optional[str]:
    try:
        with open(path, "rb") as stream:
            data = stream.read(min(size, 64 << 20))
    except OSError:
        return None
    for start in _all(data, b"release version "):
        match = _BANNER.search(data, max(0, start - 100), start + 40)
        if match:
            return f"{match.group(1).decode(errors='replace')} ({match.group(2).decode()})"
    return None


def _all(data: bytes, needle: bytes) -> Iterator[int]:
    offset = data.find(needle)
    while offset >= 0:
        yield offset
        offset = data.find(needle, offset + 1)


def glibc_version(build: Optional[str]) -> Optional[str]:
    """`2.36` from a build as `glibc_build` names it."""
    match = re.search(r"\((\d+\.\d+)\)$", build or "")
    return match.group(1) if match else None


def glibc_release(libc: Path) -> Optional[str]:
    """The glibc release of one libc.so.6 (`2.36`): its banner, else the newest GLIBC_x.y
    version it defines."""
    found = glibc_version(glibc_build(libc))
    if found:
        return found
    try:
        facts = read_facts(libc)
    except (ElfError, SetupError):
        return None
    versions = [v for v in facts.version_defs if re.fullmatch(r"GLIBC_\d+(\.\d+)+", v)]
    if not versions:
        return None
    return ".".join(str(n) for n in version_key(max(versions, key=version_key))[:2])


@dataclass
class LoadedObject:
    """One object the loader would map: its name as needed, where it was found, its facts."""

    name: str
    path: Path  # the host file
    facts: ElfFacts
    needed_by: Optional[str] = None  # the name of the object that needs it (None: the program)
    system: bool = False  # found through the cache or the built-in directories


@dataclass
class MissingLibrary:
    """A DT_NEEDED entry nothing the loader searches provides."""

    name: str
    needed_by: str
    searched: list[str] = field(default_factory=list)


@dataclass
class Resolution:
    """Every library a program loads (transitively), and those that cannot be found."""

    loaded: list[LoadedObject] = field(default_factory=list)
    missing: list[MissingLibrary] = field(default_factory=list)

    def find(self, name: str) -> Optional[LoadedObject]:
        """The loaded object that answers to `name` (needed name or SONAME)."""
        for item in self.loaded:
            if item.name == name or item.facts.soname == name:
                return item
        return None


def _expand(entry: str, origin: str, bits: int) -> Optional[str]:
    """An RPATH/RUNPATH entry with $ORIGIN and $LIB substituted (None: cannot be resolved)."""
    text = entry.replace("${ORIGIN}", "$ORIGIN").replace("${LIB}", "$LIB")
    text = text.replace("$ORIGIN", origin).replace("$LIB", "lib64" if bits == 64 else "lib")
    return None if "$" in text or not text.startswith("/") else text


def _compatible(candidate: Path, facts: ElfFacts) -> Optional[ElfFacts]:
    """The candidate's facts if the loader would accept it for `facts`' program."""
    try:
        found = read_facts(candidate)
    except (ElfError, SetupError):
        return None
    same = (found.machine, found.bits, found.endian) == (facts.machine, facts.bits, facts.endian)
    return found if same else None


@dataclass
class LoaderModel:
    """The target's loader, as it will run: what it sees (`fs`) and where it looks."""

    target: Target
    fs: GuestFS
    library_path: Sequence[str] = ()  # LD_LIBRARY_PATH entries (guest paths)

    @functools.cached_property
    def cache(self) -> dict[str, str]:
        """The ld.so.cache the guest reads (the prefix's, else the host's)."""
        found = self.fs.locate("/etc/ld.so.cache")
        return read_cache(found, self.target) if found is not None else {}

    def loader(self, interp: Optional[str]) -> Optional[Path]:
        """The host file the kernel (through QEMU) runs as the program's loader."""
        return self.fs.locate(interp) if interp else None

    def _dirs(self, facts: ElfFacts, path: str, chain: Sequence[tuple[str, ElfFacts]]
              ) -> list[str]:
        dirs: list[Optional[str]] = []
        if not facts.runpath:
            for owner_path, owner in [(path, facts), *reversed(chain)]:
                dirs += [_expand(e, os.path.dirname(owner_path), facts.bits) for e in owner.rpath]
        dirs += [entry for entry in self.library_path if entry.startswith("/")]
        dirs += [_expand(e, os.path.dirname(path), facts.bits) for e in facts.runpath]
        return [d for d in dict.fromkeys(dirs) if d is not None]

    def _locate(self, name: str, dirs: Sequence[str], program: ElfFacts
                ) -> Optional[tuple[str, Path, ElfFacts, bool]]:
        """(guest path, host file, facts, from a system place) of the first acceptable
        candidate for `name`."""
        candidates: Iterable[tuple[str, bool]]
        if "/" in name:
            candidates = [(name, False)]
        else:
            cached = [self.cache[name]] if name in self.cache else []
            candidates = (*[(f"{d}/{name}", False) for d in dirs],
                          *[(c, True) for c in cached],
                          *[(f"{d}/{name}", True) for d in builtin_dirs(self.target)])
        for guest, system in candidates:
            host = self.fs.locate(guest)
            if host is not None and host.is_file():
                found = _compatible(host, program)
                if found is not None:
                    return guest, host, found, system
        return None

    def system_library(self, name: str, program: ElfFacts) -> Optional[Path]:
        """The host file the loader takes for `name` from its cache or built-in directories."""
        found = self._locate(name, (), program)
        return found[1] if found is not None else None

    def resolve(self, program: str | Path, facts: ElfFacts) -> Resolution:
        """Resolve `program`'s DT_NEEDED libraries, and theirs, as the loader will."""
        result = Resolution()
        known: set[str] = set()
        queue: list[tuple[str, ElfFacts, str, tuple[tuple[str, ElfFacts], ...]]] = [
            (os.path.abspath(program), facts, Path(program).name, ())
        ]
        while queue and len(known) < _MAX_OBJECTS:
            guest_path, object_facts, label, chain = queue.pop(0)
            dirs = self._dirs(object_facts, guest_path, chain)
            for name in object_facts.needed:
                if name in known or any(o.facts.soname == name for o in result.loaded):
                    continue
                found = self._locate(name, dirs, facts)
                if found is None:
                    if not any(m.name == name for m in result.missing):
                        searched = [*dirs, *(["/etc/ld.so.cache"] if self.cache else []),
                                    *builtin_dirs(self.target)]
                        result.missing.append(MissingLibrary(name, label, searched))
                    continue
                guest, host, library, system = found
                known.add(name)
                result.loaded.append(LoadedObject(name, host, library, label, system))
                queue.append((guest, library, name, (*chain, (guest_path, object_facts))))
        return result
