"""Sysroots: locating them, resolving paths inside them, their libraries and glibc.

A sysroot is a directory standing for the target's root filesystem: a cross
sysroot such as /usr/aarch64-linux-gnu (libraries in lib/), a full root
filesystem image, or the host's own / for its own ISA. Paths inside it are
resolved the way the target's loader would see them: absolute symlinks point
back into the sysroot, never out to the host.
"""

from __future__ import annotations

import functools
import glob
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from .errors import SetupError
from .targets import Target, host_executes

if TYPE_CHECKING:
    from .elf import ElfFacts

_MAX_SYMLINKS = 40  # like the kernel's ELOOP limit
_MAX_OBJECTS = 512  # libraries followed transitively for one binary
_GLIBC_BANNER = re.compile(rb"GNU C Library [^\n\0]*?(?:release )?version (\d+\.\d+)")


def sysroot_has_loader(sysroot: str | Path, target: Target) -> bool:
    """Whether `sysroot` contains the target's dynamic loader."""
    return resolve_in_sysroot(sysroot, target.loader) is not None


def find_sysroot(target: Target, override: Optional[str] = None) -> Optional[Path]:
    """The first candidate sysroot that holds the target's loader, else None.

    An explicit `override` (or the target's configured sysroot) is returned as
    long as it is a directory, so that a later check can name what it lacks.
    """
    explicit = override or target.sysroot
    if explicit:
        return Path(explicit) if os.path.isdir(explicit) else None
    for candidate in sysroot_search_list(target):
        if sysroot_has_loader(candidate, target):
            return Path(candidate)
    return None


def require_explicit_sysroot(target: Target, override: Optional[str] = None) -> None:
    """SetupError when a sysroot given by the user (option or setting) is not a directory."""
    explicit = override or target.sysroot
    if not explicit or os.path.isdir(explicit):
        return
    what = "--sysroot" if override else f"sysroot of target '{target.name}'"
    state = "is not a directory" if os.path.exists(explicit) else "does not exist"
    raise SetupError(
        f"{what} {explicit} {state}: point it at the target's root filesystem "
        f"(a directory holding {target.loader}), e.g. /usr/{target.triple}"
    )


def sysroot_search_list(target: Target) -> list[str]:
    """Where `find_sysroot` looks, in order."""
    candidates = list(target.sysroot_candidates)
    if host_executes(target):
        candidates.append("/")  # the host's own root serves its own ISA
    return candidates


def resolve_in_sysroot(sysroot: str | Path, guest_path: str) -> Optional[Path]:
    """The host path of `guest_path` inside `sysroot` after following symlinks, or None.

    Absolute link targets are taken relative to the sysroot, as the target's
    loader would see them; a loop or a dangling link gives None.
    """
    root = os.path.abspath(sysroot)
    parts = [p for p in guest_path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate):
            hops += 1
            if hops > _MAX_SYMLINKS:
                return None
            link = os.readlink(candidate)
            if link.startswith("/"):
                resolved = []
            parts = [p for p in link.split("/") if p not in ("", ".")] + parts
            continue
        if not os.path.exists(candidate):
            return None
        resolved.append(part)
    return Path(os.path.join(root, *resolved))


def _multiarch_names(target: Target) -> list[str]:
    """Debian multiarch directory names of the target (i686 lives in i386-linux-gnu)."""
    names = [target.triple]
    arch, _, rest = target.triple.partition("-")
    if arch in {"i686", "i586", "i486"}:
        names.append(f"i386-{rest}")
    return names


def _ld_so_conf(sysroot: str, conf: str, depth: int = 0) -> list[str]:
    """Directories listed in an ld.so.conf inside the sysroot (includes followed, bounded)."""
    path = resolve_in_sysroot(sysroot, conf)
    if path is None or depth > 8 or not path.is_file():
        return []
    dirs: list[str] = []
    try:
        lines = path.read_text("utf-8", "replace").splitlines()[:1000]
    except OSError:
        return []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line.startswith("include"):
            pattern = line.split(None, 1)[1] if " " in line or "\t" in line else ""
            if not pattern.startswith("/"):
                pattern = os.path.join(os.path.dirname(conf), pattern)
            for match in sorted(glob.glob(os.path.join(sysroot, pattern.lstrip("/"))))[:100]:
                guest = "/" + os.path.relpath(match, sysroot)
                dirs += _ld_so_conf(sysroot, guest, depth + 1)
        elif line.startswith("/"):
            dirs.append(line)
    return dirs


@functools.lru_cache(maxsize=64)
def library_dirs(sysroot: str | Path, target: Target) -> tuple[Path, ...]:
    """The directories the target's loader searches by default, as host paths inside `sysroot`.

    /etc/ld.so.conf (with its includes) first, then the multiarch and plain
    lib directories; only directories that exist are returned.
    """
    root = str(sysroot)
    guest_dirs = _ld_so_conf(root, "/etc/ld.so.conf")
    for prefix in ("/lib", "/usr/lib"):
        guest_dirs += [f"{prefix}/{name}" for name in _multiarch_names(target)]
    if target.bits == 64:
        guest_dirs += ["/lib64", "/usr/lib64"]
    guest_dirs += ["/lib", "/usr/lib", "/lib32" if target.bits == 32 else "/lib64"]
    found: list[Path] = []
    for guest in guest_dirs:
        host = resolve_in_sysroot(root, guest)
        if host is not None and host.is_dir() and host not in found:
            found.append(host)
    return tuple(found)


def sysroot_glibc_version(sysroot: str | Path, target: Target) -> Optional[str]:
    """The glibc release of the sysroot ("2.36"), read from its libc.so.6, or None.

    The library's own banner ("GNU C Library ... version 2.36") is exact; when
    it is missing, the highest GLIBC_x.y version libc.so.6 defines is used.
    """
    for folder in library_dirs(str(sysroot), target):  # the key resolve_libraries uses
        libc = folder / "libc.so.6"
        if libc.is_file():
            info = libc.stat()
            return _libc_version(str(libc.resolve()), info.st_size, info.st_mtime_ns)
    return None


@functools.lru_cache(maxsize=64)
def _libc_version(path: str, size: int, mtime_ns: int) -> Optional[str]:
    """The glibc version of one libc.so.6 (cached by path, size and mtime)."""
    from .elf import ElfError, read_facts, version_key

    try:
        facts = read_facts(path)
    except (ElfError, SetupError):
        return None
    match = None
    try:
        with open(path, "rb") as stream:
            data = stream.read(min(size, 64 << 20))
    except OSError:
        data = b""
    start = data.find(b"GNU C Library")  # a plain search first: far faster than the regex
    if start >= 0:
        match = _GLIBC_BANNER.match(data, start)
    if match:
        return match.group(1).decode()
    versions = [v for v in facts.version_defs if re.fullmatch(r"GLIBC_\d+(\.\d+)+", v)]
    if not versions:
        return None
    best = max(versions, key=version_key)
    return ".".join(str(n) for n in version_key(best)[:2])


@dataclass
class LoadedObject:
    """One object the loader would map: its name as needed, where it was found, its facts."""

    name: str
    path: Path
    facts: ElfFacts
    needed_by: Optional[str] = None  # the name of the object that needs it (None: the program)


@dataclass
class MissingLibrary:
    """A DT_NEEDED entry no search directory provides."""

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


def _expand(entry: str, origin: Path, bits: int) -> Optional[str]:
    """An RPATH/RUNPATH entry with $ORIGIN and $LIB substituted (None: cannot be resolved)."""
    text = entry.replace("${ORIGIN}", "$ORIGIN").replace("${LIB}", "$LIB")
    text = text.replace("$ORIGIN", str(origin)).replace("$LIB", "lib64" if bits == 64 else "lib")
    return None if "$" in text else text


def _search_dirs(
    facts: ElfFacts,
    path: Path,
    sysroot: str,
    chain_rpaths: Sequence[tuple[Path, ElfFacts]],
    extra: Sequence[str],
    defaults: Sequence[Path],
) -> list[Path]:
    """The loader's search order for one object's DT_NEEDED entries, as host paths."""
    dirs: list[Optional[Path]] = []
    if not facts.runpath:
        # DT_RPATH of the object, then of the objects that loaded it (the program last).
        for owner_path, owner in [(path, facts), *reversed(chain_rpaths)]:
            dirs += [_search_dir(e, owner_path.parent, sysroot, facts.bits) for e in owner.rpath]
    for entry in extra:  # LD_LIBRARY_PATH: QEMU looks in the sysroot, then on the host
        inside = resolve_in_sysroot(sysroot, entry) if os.path.isabs(entry) else None
        dirs.append(inside if inside is not None else Path(entry))
    dirs += [_search_dir(entry, path.parent, sysroot, facts.bits) for entry in facts.runpath]
    return [d for d in dirs if d is not None] + list(defaults)


def _search_dir(entry: str, origin: Path, sysroot: str, bits: int) -> Optional[Path]:
    """One RPATH/RUNPATH entry as a host path: $ORIGIN-relative, or inside the sysroot."""
    expanded = _expand(entry, origin, bits)
    if expanded is None:
        return None
    if "$ORIGIN" in entry or "${ORIGIN}" in entry:
        return Path(expanded)  # relative to where the object itself sits
    if not os.path.isabs(entry):
        return None  # relative to the working directory at run time: unknowable here
    return resolve_in_sysroot(sysroot, expanded)


def _compatible(candidate: Path, facts: ElfFacts) -> Optional[ElfFacts]:
    """The candidate's facts if the loader would accept it for `facts`' program."""
    from .elf import ElfError, read_facts

    try:
        found = read_facts(candidate)
    except (ElfError, SetupError):
        return None
    same = (found.machine, found.bits, found.endian) == (facts.machine, facts.bits, facts.endian)
    return found if same else None


def resolve_libraries(
    program: str | Path,
    facts: ElfFacts,
    sysroot: str | Path,
    target: Target,
    *,
    extra_dirs: Iterable[str] = (),
) -> Resolution:
    """Resolve `program`'s DT_NEEDED libraries, and theirs, as the target's loader would.

    Search order per object: DT_RPATH (unless it has DT_RUNPATH) of it and of
    the objects that loaded it, `extra_dirs` (LD_LIBRARY_PATH), DT_RUNPATH,
    then the sysroot's default directories. $ORIGIN is the directory the object
    sits in. Candidates of another machine, class or byte order are skipped,
    as the loader skips them.
    """
    root = str(sysroot)
    defaults = library_dirs(root, target)
    extra = [entry for entry in extra_dirs if entry]
    result = Resolution()
    known: dict[str, LoadedObject] = {}
    queue: list[tuple[Path, ElfFacts, str, tuple[tuple[Path, ElfFacts], ...]]] = [
        (Path(program), facts, Path(program).name, ())
    ]
    while queue and len(known) < _MAX_OBJECTS:
        path, object_facts, label, chain = queue.pop(0)
        dirs = _search_dirs(object_facts, path, root, chain, extra, defaults)
        for name in object_facts.needed:
            if name in known or any(o.facts.soname == name for o in known.values()):
                continue
            loaded = _locate(name, dirs, root, facts)
            if loaded is None:
                if not any(m.name == name for m in result.missing):
                    result.missing.append(
                        MissingLibrary(name, label, [str(d) for d in dict.fromkeys(dirs)])
                    )
                continue
            item = LoadedObject(name, loaded[0], loaded[1], label)
            known[name] = item
            result.loaded.append(item)
            queue.append((loaded[0], loaded[1], name, (*chain, (path, object_facts))))
    return result


def _locate(
    name: str, dirs: Sequence[Path], sysroot: str, facts: ElfFacts
) -> Optional[tuple[Path, ElfFacts]]:
    candidates: Iterable[Optional[Path]]
    if "/" in name:  # a path, not a name: taken as is (inside the sysroot when absolute)
        candidates = [resolve_in_sysroot(sysroot, name) if name.startswith("/") else Path(name)]
    else:  # lazily: the directories after the one that holds it are never looked at
        candidates = (_host_file(folder / name, sysroot) for folder in dirs)
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            found = _compatible(candidate, facts)
            if found is not None:
                return candidate, found
    return None


def _host_file(candidate: Path, sysroot: str) -> Optional[Path]:
    """`candidate` with symlinks followed inside the sysroot when it lies in it."""
    if not candidate.is_symlink():
        return candidate if candidate.exists() else None
    root = os.path.abspath(sysroot)
    text = os.path.abspath(candidate)
    if root != "/" and os.path.commonpath([root, text]) == root:
        return resolve_in_sysroot(root, "/" + os.path.relpath(text, root))
    return candidate if candidate.exists() else None
