"""Reading an ELF file's facts once: cached by (device, inode, size, mtime, ctime) and content.

Nothing here ever executes the file.
"""

from __future__ import annotations

import collections
import hashlib
import mmap
import os
import stat
import threading
from typing import Optional, Union

from ..errors import SetupError
from .model import ElfError, ElfFacts
from .model import corrupt as _corrupt

PathLike = Union[str, "os.PathLike[str]"]
_CACHE_SIZE = 1024

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
        from .reader import Reader

        return Reader(data, digest).facts()
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


