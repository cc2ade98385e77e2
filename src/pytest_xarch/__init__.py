"""pytest-xarch: test cross-compiled software under QEMU, natively or on devices.

The library is usable without pytest::

    from pytest_xarch import resolve_target, run
    result = run("aarch64", ["./hello", "world"])
    print(result.returncode, result.fidelity, result.runner_description)
"""

from __future__ import annotations

from .checks import Finding
from .checks import check_file as check
from .config import Settings, load_settings
from .errors import ConfigError, SetupError, UnknownTargetError, XarchError
from .fidelity import Fidelity
from .runners import RunResult, run, runner_for
from .targets import Target, builtin_registry, host_target, resolve_target

__all__ = [
    "ConfigError",
    "Fidelity",
    "Finding",
    "RunResult",
    "Settings",
    "SetupError",
    "Target",
    "UnknownTargetError",
    "XarchError",
    "builtin_registry",
    "check",
    "host_target",
    "load_settings",
    "resolve_target",
    "run",
    "runner_for",
]
__version__ = "0.1.0"
