"""The guest environment: what crosses from this process to a guest program, and what not."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from typing import Optional

from ..targets import Target
from .base import GuestEnvironment, Runner

# Host variables that must never reach a guest (or the emulator itself).
_HOST_ONLY_PREFIXES = ("LD_", "QEMU_", "XARCH_")
_HOST_ONLY_NAMES = frozenset({"GLIBC_TUNABLES", "MALLOC_CHECK_", "MALLOC_PERTURB_"})


def is_loader_variable(name: str) -> bool:
    """Variables read by the dynamic loader, which must not leak between host and guest."""
    return name.startswith("LD_") or name == "GLIBC_TUNABLES"


def host_environment() -> dict[str, str]:
    """This process's environment without loader, QEMU and xarch control variables."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_HOST_ONLY_PREFIXES) and name not in _HOST_ONLY_NAMES
    }


def guest_environment(
    target: Target, runner: Runner, env: Optional[Mapping[str, str]] = None
) -> GuestEnvironment:
    """The environment a guest sees: the host's minus loader/QEMU variables, plus ours."""
    given = {
        "XARCH_TARGET": target.name,
        "XARCH_FIDELITY": str(runner.fidelity),
        "XARCH_RUNNER": shlex.join(runner.prefix()),
        **target.env,
        **(env or {}),
    }
    return GuestEnvironment(host_environment(), given)
