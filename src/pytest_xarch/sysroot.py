"""Sysroots: where a target's root filesystem is.

A sysroot is a directory standing for the target's root filesystem: a cross
sysroot such as /usr/aarch64-linux-gnu (libraries in lib/), a full root
filesystem image, or the host's own / for its own ISA. How QEMU's `-L` maps
paths into it is `guestfs`'s, how the loader searches it `loader`'s, and which
root a run uses (a sysroot, Debian multiarch or the host's) `roots`'.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from .errors import SetupError
from .targets import Target, host_executes


def sysroot_has_loader(sysroot: str | Path, target: Target) -> bool:
    """Whether `sysroot` holds the target's loader where QEMU's `-L` looks for it (host
    symlinks followed, as QEMU follows them)."""
    return os.path.exists(os.path.join(sysroot, target.loader.lstrip("/")))


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
