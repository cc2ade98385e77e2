"""Settings shared by the pytest plugin, the `xarch` command and the library.

One schema (`schema.KEYS`) and one precedence function (`load_settings`):
command line > environment (`XARCH_*`) > configuration file > ini options >
defaults. The file is the nearest `xarch.toml` (keys at top level) or
`pyproject.toml` with a `[tool.pytest_xarch]` table, searched from the start
directory upwards; `XARCH_CONFIG` names one explicitly. Every value is validated
where it is read, and an invalid one names its place: the file and key, the
variable, the ini or command-line option.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional

from ..errors import ConfigError
from ..fidelity import Fidelity
from ..targets import Target, TargetRegistry, builtin_registry
from .schema import (
    DEFAULT_EMULATION_FACTOR,
    DEFAULT_TIMEOUT,
    FACTOR_EXPECTED,
    KEYS,
    KEYS_BY_NAME,
    RUNNER_EXPECTED,
    TARGET_KEYS,
    TIMEOUT_EXPECTED,
    Key,
    Where,
    check_target_table,
    is_runner,
    seconds,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

__all__ = [
    "DEFAULT_EMULATION_FACTOR",
    "DEFAULT_TIMEOUT",
    "FACTOR_EXPECTED",
    "KEYS",
    "KEYS_BY_NAME",
    "RUNNER_EXPECTED",
    "TARGET_KEYS",
    "TIMEOUT_EXPECTED",
    "CommandLine",
    "IniReader",
    "Key",
    "Settings",
    "Where",
    "check_timeout",
    "find_config_file",
    "is_runner",
    "is_timeout",
    "load_settings",
    "read_config_file",
    "split_targets",
]

PYPROJECT_TABLE = "pytest_xarch"

# A value given on the command line: key name -> (value, the option as the user typed it).
CommandLine = Mapping[str, tuple[Any, str]]
IniReader = Callable[[str], Any]


@dataclass
class Settings:
    """Everything configurable, after precedence has been applied."""

    targets: list[str] = field(default_factory=list)
    timeout: float = DEFAULT_TIMEOUT
    emulation_factor: float = DEFAULT_EMULATION_FACTOR
    check_before_run: bool = True
    canary: bool = False
    min_fidelity: Optional[Fidelity] = None
    containment: str = "auto"
    output_limit: int = KEYS_BY_NAME[("", "output_limit")].default
    # Collectors of existing test executables.
    patterns: tuple[str, ...] = KEYS_BY_NAME[("collect", "patterns")].default
    isolate: Any = False  # bool, or globs of binaries
    run_disabled: bool = False
    go_subtests: bool = True
    case_timeout: Optional[float] = None
    binary_timeout: Optional[float] = None
    ctest: bool = True
    workdirs: list[tuple[str, Path]] = field(default_factory=list)  # (glob, directory)
    source: Optional[Path] = None
    registry: TargetRegistry = field(default_factory=builtin_registry)
    where: dict[str, Where] = field(default_factory=dict)  # key -> where it was given

    @property
    def provided(self) -> set[str]:
        """Keys given anywhere but by default."""
        return set(self.where)

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


def _prefix(path: Path) -> str:
    return f"tool.{PYPROJECT_TABLE}." if path.name == "pyproject.toml" else ""


def read_config_file(path: Path) -> dict[str, Any]:
    """The xarch table of `path`, keys checked ({} when a pyproject.toml has none)."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text("utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: invalid TOML: {error}") from None
    if path.name == "pyproject.toml":
        data = dict(data.get("tool", {}).get(PYPROJECT_TABLE, {}))
    prefix = _prefix(path)
    _check_known(data, "", path, prefix, extra=("target", "collect"))
    collect = data.get("collect", {})
    if not isinstance(collect, dict):
        raise ConfigError(f"{path}: '{prefix}collect' must be a table of collector settings")
    _check_known(collect, "collect", path, f"{prefix}collect.")
    targets = data.get("target", {})
    if not isinstance(targets, dict):
        raise ConfigError(f"{path}: '{prefix}target' must be a table of target tables")
    for name, table in targets.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {prefix}target.{name} must be a table of settings")
        check_target_table(table, Where("file", f"{prefix}target.{name}", str(path)))
        if "sysroot" in table:  # a relative sysroot is relative to the file that names it
            table["sysroot"] = str(path.parent / os.path.expanduser(table["sysroot"]))
    return data


def _check_known(table: Mapping[str, Any], section: str, path: Path, prefix: str,
                 extra: tuple[str, ...] = ()) -> None:
    known = [key.name for key in KEYS if key.section == section] + list(extra)
    for key in table:
        if key not in known:
            raise ConfigError(f"{path}: unknown key '{prefix}{key}' (known keys: "
                              f"{', '.join(known)})")


def _config_path(start: Optional[Path], path: Optional[Path],
                 environ: Mapping[str, str]) -> Optional[Path]:
    explicit = path or (Path(environ["XARCH_CONFIG"]) if environ.get("XARCH_CONFIG") else None)
    if explicit is not None and not explicit.is_file():
        state = "is a directory" if explicit.is_dir() else "does not exist"
        raise ConfigError(f"configuration file {explicit} {state}: point XARCH_CONFIG at an "
                          "xarch.toml, or a pyproject.toml with a [tool.pytest_xarch] table")
    return explicit or find_config_file(start)


def _given(value: Any) -> bool:
    """Whether a raw value counts as given (ini options default to "" or [])."""
    return value is not None and value != "" and value != []


def load_settings(
    start: Optional[Path] = None,
    *,
    path: Optional[Path] = None,
    environ: Optional[Mapping[str, str]] = None,
    cli: Optional[CommandLine] = None,
    ini: Optional[IniReader] = None,
) -> Settings:
    """The settings: each key from the first source that gives it, validated there.

    `cli` maps key names to (value, option); `ini` reads an ini option by name
    (pytest's `config.getini`).
    """
    environ = os.environ if environ is None else environ
    cli = cli or {}
    source = _config_path(start, path, environ)
    data = read_config_file(source) if source else {}
    settings = Settings(source=source)
    if source is not None and data.get("target"):
        settings.registry = builtin_registry().with_definitions(data["target"], str(source))
    for key in KEYS:
        table = data.get(key.section, {}) if key.section else data
        candidates: list[tuple[Any, Where]] = []
        if key.name in cli:
            value, option = cli[key.name]
            candidates.append((value, Where("command line", option)))
        if key.env and environ.get(key.env, "").strip():
            candidates.append((environ[key.env], Where("environment", key.env)))
        if source is not None and key.name in table:
            name = f"{_prefix(source)}{key.section + '.' if key.section else ''}{key.name}"
            candidates.append((table[key.name], Where("file", name, str(source))))
        if ini is not None and key.ini:
            candidates.append((ini(key.ini), Where("ini", key.ini)))
        for value, where in candidates:
            if _given(value):
                setattr(settings, _attribute(key), key.validate(value, where))
                settings.where[key.name] = where
                break
    if isinstance(settings.workdirs, dict):  # globs -> directories relative to the file
        base = source.parent if source is not None else Path.cwd()
        settings.workdirs = [(glob, (base / folder).resolve())
                             for glob, folder in dict(settings.workdirs).items()]
    return settings


def _attribute(key: Key) -> str:
    return "workdirs" if key.name == "workdir" else key.name


def split_targets(text: str) -> list[str]:
    """`"aarch64, armv7"` -> `["aarch64", "armv7"]`."""
    return [part.strip() for part in text.split(",") if part.strip()]


def is_timeout(value: Any) -> bool:
    """Whether `value` (a number) is a usable timeout."""
    try:
        check_timeout(value, "timeout")
    except ConfigError:
        return False
    return not isinstance(value, str)


def check_timeout(value: Any, where: str) -> float:
    """`value` as a timeout, or a ConfigError naming `where` and what is expected."""
    return seconds(value, Where("argument", where))
