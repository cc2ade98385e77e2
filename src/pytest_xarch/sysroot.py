"""Locating a target's sysroot: the directory whose lib/ holds the target's loader."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from .targets import Target, host_executes


def sysroot_has_loader(sysroot: str | Path, target: Target) -> bool:
    """Whether `sysroot` contains the target's dynamic loader."""
    return os.path.exists(os.path.join(sysroot, target.loader.lstrip("/")))


def find_sysroot(target: Target, override: Optional[str] = None) -> Optional[Path]:
    """The first candidate sysroot that holds the target's loader, else None.

    An explicit `override` (or the target's configured sysroot) is returned as
    long as it is a directory, so that a later check can name what it lacks.
    """
    explicit = override or target.sysroot
    if explicit:
        return Path(explicit) if os.path.isdir(explicit) else None
    candidates = list(target.sysroot_candidates)
    if host_executes(target):
        candidates.append("/")  # the host's own root serves its own ISA
    for candidate in candidates:
        if sysroot_has_loader(candidate, target):
            return Path(candidate)
    return None
