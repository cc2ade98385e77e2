"""Paths as a guest program sees them under QEMU user-mode with `-L PREFIX`.

QEMU (checked with 7.2) tries every absolute path the guest opens as
PREFIX/path first, and when that does not exist (`access(F_OK)`, which follows
symlinks on the host) as the host's own path. So a cross sysroot given with -L
serves what it holds, and everything else comes from the host: an absolute
RUNPATH into a build tree, `/etc/ld.so.cache`, and Debian multiarch directories
such as `/lib/aarch64-linux-gnu`. Without a prefix (the native runner, or a
multiarch root), guest paths are host paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


@dataclass(frozen=True)
class GuestFS:
    """The guest's view of the host's files, through an optional QEMU `-L` prefix."""

    prefix: Optional[Path] = None

    def locate(self, guest_path: str) -> Optional[Path]:
        """The host path the guest opens for `guest_path`, or None when it does not exist.

        A relative path depends on the working directory at run time: it is taken as
        given, relative to ours.
        """
        if not guest_path.startswith("/"):
            return Path(guest_path) if os.path.exists(guest_path) else None
        if self.prefix is not None:
            inside = os.path.join(str(self.prefix), guest_path.lstrip("/"))
            if os.path.exists(inside):
                return Path(inside)
        return Path(guest_path) if os.path.exists(guest_path) else None

    def is_file(self, guest_path: str) -> bool:
        """Whether the guest would find a file (or a symlink to one) at `guest_path`."""
        found = self.locate(guest_path)
        return found is not None and found.is_file()
