"""Settings shared by the pytest plugin and the `xarch` command.

Precedence: command line > environment (`XARCH_*`) > configuration file >
defaults. The file is the nearest `xarch.toml` (keys at top level) or
`pyproject.toml` with a `[tool.pytest_xarch]` table, searched from the current
directory upwards; `XARCH_CONFIG` names one explicitly.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional

from .containment import MODES as CONTAINMENT_MODES
from .errors import ConfigError
from .process import DEFAULT_OUTPUT_LIMIT, MAX_TIMEOUT
from .targets import Target, TargetRegistry, builtin_registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

DEFAULT_TIMEOUT = 60.0
DEFAULT_EMULATION_FACTOR = 5.0
PYPROJECT_TABLE = "pytest_xarch"

Validator = Callable[[Any], bool]


def _is_str(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _is_positive_number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


MAX_EMULATION_FACTOR = 1000.0


def _is_output_limit(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 4096
TIMEOUT_EXPECTED = (f"a positive number of seconds, at most {int(MAX_TIMEOUT)} (about 24 days, "
                    "the longest wait the kernel's poll() takes)")
FACTOR_EXPECTED = (f"a positive number, at most {MAX_EMULATION_FACTOR:g} (timeouts are "
                   "multiplied by it under QEMU)")


def is_timeout(value: Any) -> bool:
    """A usable number of seconds: finite, positive, within what poll() can wait."""
    return _is_positive_number(value) and value <= MAX_TIMEOUT


def _is_factor(value: Any) -> bool:
    return _is_positive_number(value) and value <= MAX_EMULATION_FACTOR


def check_timeout(value: Any, where: str) -> float:
    """`value` as a timeout, or a ConfigError naming `where` and what is expected."""
    if not is_timeout(value):
        raise ConfigError(f"{where} = {value!r} is invalid: expected {TIMEOUT_EXPECTED}")
    return float(value)


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_str_table(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _is_version(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\d+\.\d+", value) is not None


def _is_page_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 4096 and (
        value & (value - 1) == 0
    )


RUNNER_EXPECTED = "\"native\", \"qemu\", \"binfmt\" or \"ssh://user@host[:port]\""


def is_runner(value: Any) -> bool:
    """A runner kind (`qemu`), or an address of a kind that takes one (`ssh://user@host`)."""
    return isinstance(value, str) and re.fullmatch(r"[a-z]+|ssh://\S+", value) is not None


# key -> (validator, what is expected), for the top level and for [target.<name>] tables.
TOP_LEVEL_KEYS: dict[str, tuple[Validator, str]] = {
    "targets": (_is_str_list, "a list of target names, e.g. [\"aarch64\", \"armv7\"]"),
    "timeout": (is_timeout, TIMEOUT_EXPECTED),
    "emulation_factor": (_is_factor, FACTOR_EXPECTED),
    "check_before_run": (lambda v: isinstance(v, bool), "true or false"),
    "canary": (lambda v: isinstance(v, bool), "true or false"),
    "min_fidelity": (_is_str, "one of static, emulated, native, hardware"),
    "containment": (lambda v: v in CONTAINMENT_MODES, "\"auto\", \"cgroup\" or \"process\""),
    "output_limit": (_is_output_limit, "a number of bytes per stream, at least 4096"),
    "target": (lambda v: isinstance(v, dict), "a table of target tables ([target.<name>])"),
    # Validated key by key in collect/options.py (test-executable collectors).
    "collect": (lambda v: isinstance(v, dict), "a table of collector settings ([collect])"),
}
TARGET_KEYS: dict[str, tuple[Validator, str]] = {
    "base": (_is_str, "the name of a built-in or defined target"),
    "title": (_is_str, "a string"),
    "cpu": (_is_str, "a QEMU CPU model name, e.g. \"cortex-a72\""),
    "sysroot": (_is_str, "a directory path"),
    "glibc": (_is_version, "a glibc version \"X.Y\", e.g. \"2.31\""),
    "page_size": (_is_page_size, "a power of two >= 4096, e.g. 16384 or 65536"),
    "runner": (is_runner, RUNNER_EXPECTED),
    "timeout": (is_timeout, TIMEOUT_EXPECTED),
    "env": (_is_str_table, "a table of string values"),
    "qemu_args": (_is_str_list, "a list of strings"),
    "cc": (_is_str, "a compiler command"),
    "cxx": (_is_str, "a compiler command"),
    "cflags": (_is_str_list, "a list of strings"),
    "ldflags": (_is_str_list, "a list of strings"),
    "ssh_identity": (_is_str, "the path of the private key that logs in to the device"),
    "ssh_known_hosts": (
        _is_str, "\"strict\", \"accept-new\" (the default), \"off\" or a known_hosts file"
    ),
    "ssh_workdir": (_is_str, "a directory on the device for the session's files (default /tmp)"),
    "ssh_options": (_is_str_list, "a list of ssh -o options, e.g. [\"ProxyJump=gateway\"]"),
}


@dataclass
class Settings:
    """Everything configurable, after precedence has been applied."""

    targets: list[str] = field(default_factory=list)
    timeout: float = DEFAULT_TIMEOUT
    emulation_factor: float = DEFAULT_EMULATION_FACTOR
    check_before_run: bool = True
    canary: bool = False
    min_fidelity: Optional[str] = None
    containment: str = "auto"
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    source: Optional[Path] = None
    provided: set[str] = field(default_factory=set)  # keys set by the file or environment
    registry: TargetRegistry = field(default_factory=builtin_registry)

    def resolve(self, name: str | Target) -> Target:
        """A target by any spelling, with the configured default timeout applied."""
        target = self.registry.resolve(name)
        return target if target.timeout else replace(target, timeout=self.timeout)


def find_config_file(start: Optional[Path] = None) -> Optional[Path]:
    """The nearest xarch.toml, or pyproject.toml with [tool.pytest_xarch], upwards from start."""
    directory = (start or Path.cwd()).resolve()
    for folder in (directory, *directory.parents):
        candidate = folder / "xarch.toml"
        if candidate.is_file():
            return candidate
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and f"[tool.{PYPROJECT_TABLE}" in pyproject.read_text("utf-8"):
            return pyproject
    return None


def read_config_file(path: Path) -> dict[str, Any]:
    """The xarch table of `path` (validated), or {} when a pyproject.toml has none."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text("utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    if path.name == "pyproject.toml":
        data = dict(data.get("tool", {}).get(PYPROJECT_TABLE, {}))
        prefix = f"tool.{PYPROJECT_TABLE}."
    else:
        prefix = ""
    _validate(data, TOP_LEVEL_KEYS, path, prefix)
    for name, table in data.get("target", {}).items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {prefix}target.{name} must be a table of settings")
        _validate(table, TARGET_KEYS, path, f"{prefix}target.{name}.")
    return data


def _validate(
    table: Mapping[str, Any], schema: Mapping[str, tuple[Validator, str]], path: Path, prefix: str
) -> None:
    for key, value in table.items():
        if key not in schema:
            known = ", ".join(schema)
            raise ConfigError(f"{path}: unknown key '{prefix}{key}' (known keys: {known})")
        valid, expected = schema[key]
        if not valid(value):
            raise ConfigError(
                f"{path}: '{prefix}{key}' = {value!r} is invalid: expected {expected}"
            )


def parse_positive_number(text: str, source: str) -> Optional[float]:
    """`text` as a positive finite number, None when blank; a ConfigError naming `source`."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not _is_positive_number(value):  # also rejects NaN and infinity
        raise ConfigError(f"{source}={text!r}: expected a positive number")
    return value


def parse_timeout(text: str, source: str) -> Optional[float]:
    """`text` as a timeout in seconds, None when blank; a ConfigError naming `source`."""
    value = parse_positive_number(text, source)
    if value is not None and not is_timeout(value):
        raise ConfigError(f"{source}={text!r}: expected {TIMEOUT_EXPECTED}")
    return value


def parse_factor(text: str, source: str) -> Optional[float]:
    """`text` as an emulation factor, None when blank; a ConfigError naming `source`."""
    value = parse_positive_number(text, source)
    if value is not None and not _is_factor(value):
        raise ConfigError(f"{source}={text!r}: expected {FACTOR_EXPECTED}")
    return value


def parse_output_limit(text: str, source: str) -> int:
    """`text` as an output limit in bytes (at least 4096); a ConfigError naming `source`."""
    try:
        value = int(text.strip())
    except ValueError:
        value = 0
    if not _is_output_limit(value):
        raise ConfigError(f"{source}={text!r}: expected a number of bytes per stream, "
                          "at least 4096")
    return value


def _env_number(environ: Mapping[str, str], name: str) -> Optional[float]:
    parse = parse_factor if name == "XARCH_EMULATION_FACTOR" else parse_timeout
    return parse(environ.get(name, ""), f"environment variable {name}")


def load_settings(
    start: Optional[Path] = None,
    *,
    path: Optional[Path] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> Settings:
    """Settings from the configuration file and the environment (the command line comes later)."""
    environ = os.environ if environ is None else environ
    explicit = path or (Path(environ["XARCH_CONFIG"]) if environ.get("XARCH_CONFIG") else None)
    if explicit is not None and not explicit.is_file():
        state = "is a directory" if explicit.is_dir() else "does not exist"
        raise ConfigError(f"configuration file {explicit} {state}: point XARCH_CONFIG at an "
                          "xarch.toml, or a pyproject.toml with a [tool.pytest_xarch] table")
    source = explicit or find_config_file(start)
    data = read_config_file(source) if source else {}
    settings = Settings(source=source)
    if source is not None and data.get("target"):
        settings.registry = builtin_registry().with_definitions(data["target"], str(source))
    settings.targets = list(data.get("targets", []))
    settings.timeout = float(data.get("timeout", DEFAULT_TIMEOUT))
    settings.emulation_factor = float(data.get("emulation_factor", DEFAULT_EMULATION_FACTOR))
    settings.check_before_run = bool(data.get("check_before_run", True))
    settings.canary = bool(data.get("canary", False))
    settings.min_fidelity = data.get("min_fidelity")
    settings.containment = data.get("containment", "auto")
    settings.output_limit = data.get("output_limit", DEFAULT_OUTPUT_LIMIT)
    settings.provided = set(data)
    if environ.get("XARCH_CONTAINMENT"):
        mode = environ["XARCH_CONTAINMENT"].strip()
        if mode not in CONTAINMENT_MODES:
            raise ConfigError(f"environment variable XARCH_CONTAINMENT={mode!r}: expected "
                              f"{', '.join(CONTAINMENT_MODES)}")
        settings.containment = mode
        settings.provided.add("containment")
    if environ.get("XARCH_OUTPUT_LIMIT"):
        settings.output_limit = parse_output_limit(environ["XARCH_OUTPUT_LIMIT"],
                                                   "environment variable XARCH_OUTPUT_LIMIT")
        settings.provided.add("output_limit")
    if environ.get("XARCH_TARGETS"):
        settings.targets = split_targets(environ["XARCH_TARGETS"])
        settings.provided.add("targets")
    for key, variable in (("timeout", "XARCH_TIMEOUT"),
                          ("emulation_factor", "XARCH_EMULATION_FACTOR")):
        value = _env_number(environ, variable)
        if value is not None:
            setattr(settings, key, value)
            settings.provided.add(key)
    return settings


def split_targets(text: str) -> list[str]:
    """`"aarch64, armv7"` -> `["aarch64", "armv7"]`."""
    return [part.strip() for part in text.split(",") if part.strip()]
