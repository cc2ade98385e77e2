"""pytest-xarch: test cross-compiled software under QEMU, natively or on devices.

The library is usable without pytest::

    from pytest_xarch import resolve_target, run
    result = run("aarch64", ["./hello", "world"])
    print(result.returncode, result.fidelity, result.runner_description)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, SetupError, UnknownTargetError, XarchError
from .fidelity import Fidelity
from .version import __version__

if TYPE_CHECKING:
    from .api import check, resolve_target, run, runner_for
    from .checks import Finding
    from .runners import RunResult
    from .settings import Settings, load_settings
    from .targets import Target, builtin_registry, host_target

# Imported on first use (PEP 562), so that `xarch run` and the pytest plugin load
# only the modules they need: the ELF reader alone costs tens of milliseconds.
_LAZY = {
    "Finding": ("checks", "Finding"),
    "check": ("api", "check"),
    "Settings": ("settings", "Settings"),
    "load_settings": ("settings", "load_settings"),
    "RunResult": ("runners", "RunResult"),
    "run": ("api", "run"),
    "runner_for": ("api", "runner_for"),
    "Target": ("targets", "Target"),
    "builtin_registry": ("targets", "builtin_registry"),
    "host_target": ("targets", "host_target"),
    "resolve_target": ("api", "resolve_target"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, attribute = _LAZY[name]
    value = getattr(importlib.import_module(f".{module_name}", __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})

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
    "__version__",
    "builtin_registry",
    "check",
    "host_target",
    "load_settings",
    "resolve_target",
    "run",
    "runner_for",
]
