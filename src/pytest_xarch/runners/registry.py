"""Choosing the runner of a target: the registry of runner kinds and the default choice.

Runner kinds are registered in `RUNNER_KINDS`; a target chooses one with
`runner = "<kind>"` (or a URL such as ``ssh://user@host`` whose scheme is the
kind), and otherwise gets `native` when this host executes its instructions and
no CPU model is pinned, `qemu` when not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from ..errors import SetupError
from ..targets import Target, host_executes, host_target
from .base import Runner
from .native import NativeRunner
from .qemu import QemuRunner

RunnerFactory = Callable[[Target, Optional[str], Optional[str]], Runner]


def _native(target: Target, cpu: Optional[str], sysroot: Optional[str]) -> Runner:
    if not host_executes(target):
        raise SetupError(
            f"target '{target.name}' is set to runner = \"native\", but this host is "
            f"{host_target().title} and cannot execute {target.title} code: "
            "remove the runner setting to emulate it with QEMU"
        )
    if cpu or target.cpu:
        raise SetupError(
            f"target '{target.name}' pins CPU model '{cpu or target.cpu}', which only "
            "emulation can honour: remove runner = \"native\" or the cpu setting"
        )
    return NativeRunner(target)


def _qemu(target: Target, cpu: Optional[str], sysroot: Optional[str]) -> Runner:
    return QemuRunner(target, cpu=cpu, sysroot=sysroot)


def _binfmt(target: Target, cpu: Optional[str], sysroot: Optional[str]) -> Runner:
    from .binfmt import BinfmtRunner

    return BinfmtRunner(target, cpu=cpu, sysroot=sysroot)


def _ssh(target: Target, cpu: Optional[str], sysroot: Optional[str]) -> Runner:
    if cpu:
        raise SetupError(
            f"target '{target.name}' runs on a device over SSH; a CPU model ({cpu}) can only "
            "be pinned under emulation"
        )
    from .ssh import SshRunner

    return SshRunner(target)


def _system(target: Target, cpu: Optional[str], sysroot: Optional[str]) -> Runner:
    from .system import SystemRunner

    return SystemRunner(target, cpu=cpu, sysroot=sysroot)


RUNNER_KINDS: dict[str, RunnerFactory] = {
    "native": _native, "qemu": _qemu, "binfmt": _binfmt, "ssh": _ssh, "system": _system,
}
ADDRESSED_KINDS = frozenset({"ssh"})  # kinds whose runner setting is a URL


def runner_kind(target: Target, cpu: Optional[str] = None) -> str:
    """The kind of runner `target` gets on this host (`native`, `qemu`, `ssh`, ...)."""
    if target.runner:
        return target.runner.split("://", 1)[0] if "://" in target.runner else target.runner
    if host_executes(target) and not (cpu or target.cpu):
        return "native"
    return "qemu"


def runner_for(
    target: Target, *, cpu: Optional[str] = None, sysroot: Optional[str] = None
) -> Runner:
    """The runner that executes binaries of `target` on this host."""
    kind = runner_kind(target, cpu)
    if target.runner and "://" in target.runner and kind not in ADDRESSED_KINDS:
        raise SetupError(
            f"target '{target.name}' has runner = \"{target.runner}\", but runner '{kind}' "
            f"takes no address (only {', '.join(sorted(ADDRESSED_KINDS))}:// does): "
            f"use runner = \"{kind}\""
        )
    factory = RUNNER_KINDS.get(kind)
    if factory is None:
        known = ", ".join(sorted(RUNNER_KINDS))
        raise SetupError(
            f"target '{target.name}' asks for runner '{target.runner}', which is not available "
            f"in this version of pytest-xarch (available: {known})"
        )
    return factory(target, cpu, sysroot)
