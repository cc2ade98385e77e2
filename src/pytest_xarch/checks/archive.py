"""Static archives (`.a`): their object files are checked, the archive is summed up once.

An archive is linked, never run, so what matters is whether its members were
built for the target (machine, class, byte order, float ABI). Each ELF member is
checked like a file of its own (extracted one at a time into a private
directory); findings that several members share are reported once, with a count.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import SetupError
from .model import ERROR, INFO, Code, Finding

AR_MAGIC = b"!<arch>\n"
THIN_MAGIC = b"!<thin>\n"
_HEADER = 60
_MAX_MEMBERS = 64  # members checked; the rest are counted
_MAX_MEMBER_SIZE = 64 << 20


def is_archive(path: str) -> bool:
    """Whether `path` is a Unix `ar` archive (regular or thin)."""
    try:
        with open(path, "rb") as stream:
            return stream.read(8) in (AR_MAGIC, THIN_MAGIC)
    except OSError:
        return False


def _members(path: str) -> Iterator[tuple[str, bytes]]:
    """(name, content) of each ELF member; symbol and name tables are skipped."""
    with open(path, "rb") as stream:
        if stream.read(8) != AR_MAGIC:
            return
        names = b""
        while len(header := stream.read(_HEADER)) == _HEADER and header[58:60] == b"`\n":
            raw, size = header[:16].rstrip(), int(header[48:58].strip() or 0)
            data = stream.read(size) if size <= _MAX_MEMBER_SIZE else b""
            if size > _MAX_MEMBER_SIZE:
                stream.seek(size, os.SEEK_CUR)
            if size % 2:
                stream.read(1)
            if raw == b"//":
                names = data
            elif raw.startswith(b"/") and raw[1:].isdigit():
                start = int(raw[1:])
                end = names.find(b"/\n", start)
                yield names[start:end if end >= 0 else None].decode(errors="replace"), data
            elif raw not in (b"/", b"/SYM64/"):
                yield raw.rstrip(b"/").decode(errors="replace"), data


def check_archive(path: str, check: Callable[[str], list[Finding]]) -> list[Finding]:
    """The findings of `path`'s ELF members under `check`, grouped; an `info` when clean."""
    try:
        with open(path, "rb") as stream:
            thin = stream.read(8) == THIN_MAGIC
    except OSError as error:
        raise SetupError(f"{path}: cannot be read ({error.strerror})") from None
    if thin:
        return [Finding(Code.STATIC_ARCHIVE, INFO, "thin archive: its members are separate "
                        "files; check those object files themselves", path)]
    grouped: dict[tuple[Code, str], list[str]] = {}
    findings: dict[tuple[Code, str], Finding] = {}
    checked = total = 0
    with tempfile.TemporaryDirectory(prefix="xarch-archive-") as scratch:
        for name, data in _members(path):
            if not data.startswith(b"\x7fELF"):
                continue
            total += 1
            if checked >= _MAX_MEMBERS:
                continue
            checked += 1
            member = Path(scratch) / "member.o"
            member.write_bytes(data)
            for finding in check(str(member)):
                key = (finding.code, finding.message)
                grouped.setdefault(key, []).append(name)
                findings.setdefault(key, finding)
    out = []
    for key, names in grouped.items():
        finding = findings[key]
        which = (names[0] if len(names) == 1
                 else f"{len(names)} of {checked} members, e.g. {names[0]}")
        out.append(Finding(finding.code, finding.severity, f"{finding.message} ({which})",
                           path, {**finding.facts, "members": names}))
    if not any(f.severity == ERROR for f in out):
        more = f" (the first {checked} checked)" if total > checked else ""
        message = (f"static archive of {total} object file(s){more} whose machine and ABI "
                   "match the target; archives are linked into programs, not run"
                   if total else "static archive without ELF object files: nothing to check")
        out.append(Finding(Code.STATIC_ARCHIVE, INFO, message, path,
                           {"members": total, "checked": checked}))
    return out
