"""Collector settings: command line > `[tool.pytest_xarch.collect]` > ini options > defaults.

```toml
[tool.pytest_xarch.collect]
patterns = ["*_test", "*.test"]        # test executable names (globs; with "/" a path)
isolate = ["build/flaky_test"]          # true, or globs of binaries run one launch per case
case_timeout = 30                      # seconds per case, before the emulation factor
binary_timeout = 600                   # seconds per launch of a whole batch, likewise
ctest = true                           # CMake build trees are collected through ctest
[tool.pytest_xarch.collect.workdir]    # working directory per binary glob (default: its own)
"build/go/*.test" = "src/go"           # relative to the configuration file's directory
```
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional, Union

from ..config import TIMEOUT_EXPECTED, is_timeout, read_config_file
from ..errors import ConfigError
from .identify import DEFAULT_PATTERNS, matches_patterns

_KEYS = {
    "patterns": "a list of file name globs, e.g. [\"*_test\", \"*.test\"]",
    "isolate": "true, false or a list of binary globs",
    "case_timeout": TIMEOUT_EXPECTED,
    "binary_timeout": TIMEOUT_EXPECTED,
    "ctest": "true or false",
    "workdir": "a table of binary glob = directory",
}


@dataclass
class CollectOptions:
    """How test executables are found and run."""

    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    isolate: Union[bool, tuple[str, ...]] = False
    case_timeout: Optional[float] = None  # None: the target's timeout
    binary_timeout: Optional[float] = None  # None: case_timeout x cases in the launch
    ctest: bool = True
    workdirs: list[tuple[str, Path]] = field(default_factory=list)

    def isolated(self, binary: Path) -> bool:
        """Whether every case of `binary` runs in a launch of its own."""
        if isinstance(self.isolate, bool):
            return self.isolate
        return matches_patterns(binary, self.isolate)

    def workdir(self, binary: Path) -> Path:
        """The working directory of `binary`: the first matching glob's, else its own folder."""
        for pattern, directory in self.workdirs:
            if matches_patterns(binary, [pattern]):
                return directory
        return binary.parent


def _valid(key: str, value: Any) -> bool:
    if key == "patterns":
        return isinstance(value, list) and all(isinstance(v, str) and v for v in value)
    if key == "isolate":
        return isinstance(value, bool) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value))
    if key in ("case_timeout", "binary_timeout"):
        return is_timeout(value)
    if key == "ctest":
        return isinstance(value, bool)
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def from_table(table: dict[str, Any], source: Path, base: CollectOptions) -> CollectOptions:
    """`base` adjusted by a `collect` table read from `source` (validated)."""
    where = f"{source}: [tool.pytest_xarch.collect]" if source.name == "pyproject.toml" else (
        f"{source}: [collect]")
    for key, value in table.items():
        if key not in _KEYS:
            raise ConfigError(f"{where}: unknown key '{key}' (known keys: {', '.join(_KEYS)})")
        if not _valid(key, value):
            raise ConfigError(f"{where}: '{key}' = {value!r} is invalid: expected {_KEYS[key]}")
    options = replace(base, workdirs=list(base.workdirs))  # appended to below, not shared
    if "patterns" in table:
        options.patterns = tuple(table["patterns"])
    if "isolate" in table:
        value = table["isolate"]
        options.isolate = value if isinstance(value, bool) else tuple(value)
    for key in ("case_timeout", "binary_timeout"):
        if key in table:
            setattr(options, key, float(table[key]))
    if "ctest" in table:
        options.ctest = table["ctest"]
    for pattern, directory in table.get("workdir", {}).items():
        options.workdirs.append((pattern, (source.parent / directory).resolve()))
    return options


def load_options(
    source: Optional[Path],
    *,
    ini: Optional[dict[str, Any]] = None,
    isolate_flag: bool = False,
) -> CollectOptions:
    """Options from ini values (lowest), the configuration file, then the command line."""
    options = CollectOptions()
    ini = ini or {}
    if ini.get("patterns"):
        options.patterns = tuple(ini["patterns"])
    if ini.get("isolate"):
        options.isolate = True
    for key in ("case_timeout", "binary_timeout"):
        if ini.get(key) is not None:
            setattr(options, key, ini[key])
    if source is not None:
        table = read_config_file(source).get("collect")
        if table:
            options = from_table(table, source, options)
    if isolate_flag:
        options.isolate = True
    return options
