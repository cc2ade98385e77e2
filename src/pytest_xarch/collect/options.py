"""Collector settings, as the collectors use them (read and validated by `settings`).

```toml
[tool.pytest_xarch.collect]
patterns = ["*_test", "*.test"]        # test executable names (globs; with "/" a path)
isolate = ["build/flaky_test"]          # true, or globs of binaries run one launch per case
case_timeout = 30                      # seconds per case, before the emulation factor
binary_timeout = 600                   # seconds per launch of a whole batch, likewise
ctest = true                           # CMake build trees are collected through ctest
run_disabled = false                   # GoogleTest's DISABLED_ tests run too (else: skipped)
go_subtests = true                     # Go subtests are items (found by running the tests once)
[tool.pytest_xarch.collect.workdir]    # working directory per binary glob (default: its own)
"build/go/*.test" = "src/go"           # relative to the configuration file's directory
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from ..settings import KEYS_BY_NAME, Settings
from .identify import matches_patterns

DEFAULT_PATTERNS: tuple[str, ...] = KEYS_BY_NAME[("collect", "patterns")].default


@dataclass
class CollectOptions:
    """How test executables are found and run."""

    patterns: tuple[str, ...] = DEFAULT_PATTERNS
    isolate: Union[bool, tuple[str, ...]] = False
    case_timeout: Optional[float] = None  # None: the target's timeout
    binary_timeout: Optional[float] = None  # None: case_timeout x cases in the launch
    ctest: bool = True
    run_disabled: bool = False
    go_subtests: bool = True
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


def options_from(settings: Settings) -> CollectOptions:
    """The collector options of `settings` (validated, with precedence, by the settings)."""
    isolate = settings.isolate
    return CollectOptions(
        patterns=tuple(settings.patterns),
        isolate=isolate if isinstance(isolate, bool) else tuple(isolate),
        case_timeout=settings.case_timeout,
        binary_timeout=settings.binary_timeout,
        ctest=settings.ctest,
        run_disabled=settings.run_disabled,
        go_subtests=settings.go_subtests,
        workdirs=list(settings.workdirs),
    )
