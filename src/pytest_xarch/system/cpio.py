"""Writing initramfs archives: the kernel's `newc` cpio format, uncompressed.

Linux unpacks every archive concatenated into its initramfs in order, so a fixed
archive (cached) and a small per-boot one can be joined by appending bytes.
"""

from __future__ import annotations

import stat
from typing import BinaryIO

_TRAILER = "TRAILER!!!"


class CpioWriter:
    """Entries written one by one to `stream` as a `newc` archive (`close` ends it)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._inode = 1

    def directory(self, name: str, mode: int = 0o755) -> None:
        self._entry(name, stat.S_IFDIR | mode, b"")

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def close(self) -> None:
        """Write the trailer, padded to a 512-byte block as cpio(1) does."""
        self._entry(_TRAILER, 0, b"")
        self._stream.write(b"\0" * (-self._stream.tell() % 512))

    def _entry(self, name: str, mode: int, data: bytes) -> None:
        path = name.lstrip("/").encode() + b"\0"
        fields = [self._inode, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(path), 0]
        self._inode += 1
        header = b"070701" + b"".join(b"%08X" % value for value in fields)
        self._stream.write(header + path + b"\0" * (-(len(header) + len(path)) % 4))
        self._stream.write(data + b"\0" * (-len(data) % 4))
