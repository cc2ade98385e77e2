"""Running target programs: the runners, their registry, and `run()`.

`registry` chooses a target's runner, `launch.run` runs one program through it,
`environment` says what a guest sees, and `result.RunResult` is what comes back.
Everything here takes `Target` objects: names are resolved above, by the
settings.
"""

from __future__ import annotations

from .base import GuestEnvironment, HostCommand, Runner
from .environment import guest_environment, host_environment, is_loader_variable
from .launch import PreCheck, default_timeout, locate_program, run
from .native import NativeRunner
from .qemu import QemuRunner
from .registry import RUNNER_KINDS, runner_for, runner_kind
from .result import RunResult, killing_signal, signal_name

__all__ = [
    "RUNNER_KINDS", "GuestEnvironment", "HostCommand", "NativeRunner", "PreCheck",
    "QemuRunner", "RunResult", "Runner", "default_timeout", "guest_environment",
    "host_environment", "is_loader_variable", "killing_signal", "locate_program", "run",
    "runner_for", "runner_kind", "signal_name",
]
