"""The one schema of settings: every key, where it may be set, and its validator.

A validator takes a value and the place it came from (`where`) and returns the
value it stands for, or raises a ConfigError naming that place and what is
expected. Values from the environment, ini files and the command line arrive as
text; from a TOML file, typed. One validator serves both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional

from ..containment import MODES as CONTAINMENT_MODES
from ..errors import ConfigError
from ..fidelity import Fidelity
from ..process import DEFAULT_OUTPUT_LIMIT, MAX_TIMEOUT

DEFAULT_TIMEOUT = 60.0
DEFAULT_EMULATION_FACTOR = 5.0
MAX_EMULATION_FACTOR = 1000.0

Validator = Callable[[Any, "Where"], Any]


@dataclass(frozen=True)
class Where:
    """Where a value was given: a file's key, an environment variable, an ini or CLI option."""

    kind: str  # "file", "environment", "ini", "command line", "argument"
    name: str  # the key as written there: "tool.pytest_xarch.timeout", "XARCH_TIMEOUT", ...
    path: Optional[str] = None  # the file, for kind "file"

    def __str__(self) -> str:
        if self.kind == "file":
            return f"{self.path}: '{self.name}'"
        if self.kind == "environment":
            return f"environment variable {self.name}"
        if self.kind == "ini":
            return f"ini option {self.name}"
        return self.name

    @property
    def gives_text(self) -> bool:
        """Whether values from here are text to convert (a TOML file's are typed)."""
        return self.kind != "file"

    def invalid(self, value: Any, expected: str) -> ConfigError:
        """The error for `value` given here: what was given, where, and what is expected."""
        if self.kind == "file":
            return ConfigError(f"{self} = {value!r} is invalid: expected {expected}")
        return ConfigError(f"{self}={value!r}: expected {expected}")


def _number(value: Any, where: Where, expected: str, *, limit: float) -> float:
    if isinstance(value, str) and where.gives_text:
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            raise where.invalid(value, expected) from None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    else:
        raise where.invalid(value, expected)
    if not (math.isfinite(number) and 0 < number <= limit):
        raise where.invalid(value, expected)
    return number


TIMEOUT_EXPECTED = (f"a positive number of seconds, at most {int(MAX_TIMEOUT)} (about 24 days, "
                    "the longest wait the kernel's poll() takes)")
FACTOR_EXPECTED = (f"a positive number, at most {MAX_EMULATION_FACTOR:g} (timeouts are "
                   "multiplied by it under QEMU)")
RUNNER_EXPECTED = ("\"native\", \"qemu\", \"binfmt\", \"system\" or "
                   "\"ssh://user@host[:port]\"")


def seconds(value: Any, where: Where) -> float:
    """A timeout: finite, positive, within what poll() can wait."""
    return _number(value, where, TIMEOUT_EXPECTED, limit=MAX_TIMEOUT)


def factor(value: Any, where: Where) -> float:
    """The emulation factor."""
    return _number(value, where, FACTOR_EXPECTED, limit=MAX_EMULATION_FACTOR)


def boolean(value: Any, where: Where) -> bool:
    """true/false (also 1/0, yes/no, on/off as text)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and where.gives_text:
        text = value.strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
    raise where.invalid(value, "true or false")


def names(value: Any, where: Where) -> list[str]:
    """Target names: a list of strings, or (as text) one comma-separated string."""
    if isinstance(value, str) and where.gives_text:
        found = [part.strip() for part in value.split(",") if part.strip()]
        if not found:
            raise where.invalid(value, "target names, e.g. aarch64,armv7")
        return found
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return [item.strip() for item in value if item.strip()]
    raise where.invalid(value, "a list of target names, e.g. [\"aarch64\", \"armv7\"]")


def globs(value: Any, where: Where) -> tuple[str, ...]:
    """File name globs: a list of non-empty strings (or whitespace-separated text)."""
    if isinstance(value, str) and where.gives_text:
        value = value.split()
    if isinstance(value, list) and all(isinstance(item, str) and item for item in value):
        return tuple(value)
    raise where.invalid(value, "a list of file name globs, e.g. [\"*_test\", \"*.test\"]")


def level(value: Any, where: Where) -> Fidelity:
    """A fidelity level."""
    try:
        if isinstance(value, str):
            return Fidelity.parse(value)
    except ValueError:
        pass
    levels = ", ".join(str(item) for item in Fidelity)
    raise where.invalid(value, f"one of {levels}")


def containment(value: Any, where: Where) -> str:
    """How runs are contained."""
    if isinstance(value, str) and value.strip() in CONTAINMENT_MODES:
        return value.strip()
    raise where.invalid(value, " or ".join(f"\"{mode}\"" for mode in CONTAINMENT_MODES))


def output_limit(value: Any, where: Where) -> int:
    """Bytes kept of each captured stream."""
    try:
        number = int(value.strip()) if isinstance(value, str) and where.gives_text else value
    except ValueError:
        number = None
    if isinstance(number, int) and not isinstance(number, bool) and number >= 4096:
        return number
    raise where.invalid(value, "a number of bytes per stream, at least 4096")


def isolate(value: Any, where: Where) -> Any:
    """true, false, or globs of binaries that run one launch per case."""
    if isinstance(value, list):
        return globs(value, where)
    return boolean(value, where)


def workdirs(value: Any, where: Where) -> dict[str, str]:
    """A table of binary glob = working directory."""
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return dict(value)
    raise where.invalid(value, "a table of binary glob = directory")


def is_runner(value: Any) -> bool:
    """A runner kind (`qemu`), or an address of a kind that takes one (`ssh://user@host`)."""
    return isinstance(value, str) and re.fullmatch(r"[a-z]+|ssh://\S+", value) is not None


def _typed(check: Callable[[Any], bool], expected: str) -> Validator:
    def validate(value: Any, where: Where) -> Any:
        if not check(value):
            raise where.invalid(value, expected)
        return value
    return validate


def _is_str(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_str_table(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _is_version(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(r"\d+\.\d+", value) is not None


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 64


def _is_memory(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 128 <= value <= 65536


def _is_page_size(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 4096 and (
        value & (value - 1) == 0
    )


@dataclass(frozen=True)
class Key:
    """One setting: its validator, default, and the names it has outside the file."""

    name: str
    validate: Validator
    default: Any
    help: str
    env: Optional[str] = None
    ini: Optional[str] = None
    ini_type: Literal["string", "args", "bool"] = "string"  # pytest's addini type
    section: str = ""  # "" for [tool.pytest_xarch], "collect" for its [collect] table


KEYS: tuple[Key, ...] = (
    Key("targets", names, [], "targets to run xarch tests for, e.g. aarch64,armv7 (default: "
        "this host's)", env="XARCH_TARGETS", ini="xarch_targets", ini_type="args"),
    Key("timeout", seconds, DEFAULT_TIMEOUT, "seconds per run, before the emulation factor",
        env="XARCH_TIMEOUT", ini="xarch_timeout"),
    Key("emulation_factor", factor, DEFAULT_EMULATION_FACTOR,
        "timeout multiplier under QEMU", env="XARCH_EMULATION_FACTOR",
        ini="xarch_emulation_factor"),
    Key("check_before_run", boolean, True, "statically check every binary before running it",
        env="XARCH_CHECK_BEFORE_RUN", ini="xarch_check_before_run", ini_type="bool"),
    Key("canary", boolean, False, "run the self-test canary for each target first",
        ini="xarch_canary", ini_type="bool"),
    Key("min_fidelity", level, None, "fail the session when a test was obtained below it",
        ini="xarch_min_fidelity"),
    Key("containment", containment, "auto",
        "how runs are contained: auto (default), cgroup or process", env="XARCH_CONTAINMENT",
        ini="xarch_containment"),
    Key("output_limit", output_limit, DEFAULT_OUTPUT_LIMIT,
        "bytes of each run's stdout and stderr kept (head and tail)", env="XARCH_OUTPUT_LIMIT",
        ini="xarch_output_limit"),
    # Collectors of existing test executables.
    Key("patterns", globs, ("test_*", "*_test", "*_tests", "*_unittest", "*_unittests", "*.test"),
        "file name globs of test executables to collect", ini="xarch_binary_patterns",
        ini_type="args", section="collect"),
    Key("isolate", isolate, False, "run each case of a collected test binary in its own launch",
        ini="xarch_isolate", ini_type="bool", section="collect"),
    Key("case_timeout", seconds, None,
        "seconds per case of a test binary, before the emulation factor",
        ini="xarch_case_timeout", section="collect"),
    Key("binary_timeout", seconds, None,
        "seconds per launch of a test binary's batch, before the emulation factor",
        ini="xarch_binary_timeout", section="collect"),
    Key("ctest", boolean, True, "collect CMake build trees through ctest", section="collect"),
    Key("run_disabled", boolean, False,
        "run GoogleTest's DISABLED_ tests too (by default they are skipped, as GoogleTest does)",
        env="XARCH_RUN_DISABLED", ini="xarch_run_disabled", ini_type="bool", section="collect"),
    Key("go_subtests", boolean, True,
        "make Go subtests (t.Run) items of their own; finding them runs the tests once at "
        "collection (their results serve the run)",
        ini="xarch_go_subtests", ini_type="bool", section="collect"),
    Key("workdir", workdirs, {}, "working directory per binary glob", section="collect"),
)
KEYS_BY_NAME: Mapping[tuple[str, str], Key] = {(key.section, key.name): key for key in KEYS}

# [target.<name>] tables: key -> (validator, what is expected).
TARGET_KEYS: Mapping[str, tuple[Callable[[Any], bool], str]] = {
    "base": (_is_str, "the name of a built-in or defined target"),
    "title": (_is_str, "a string"),
    "cpu": (_is_str, "a QEMU CPU model name, e.g. \"cortex-a72\""),
    "sysroot": (_is_str, "a directory path"),
    "glibc": (_is_version, "a glibc version \"X.Y\", e.g. \"2.31\""),
    "page_size": (_is_page_size, "a power of two >= 4096, e.g. 16384 or 65536"),
    "runner": (is_runner, RUNNER_EXPECTED),
    "timeout": (lambda value: _valid(seconds, value), TIMEOUT_EXPECTED),
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
    "kernel": (_is_str, "the path of a kernel image for qemu-system (default: Debian's)"),
    "modules": (_is_str, "the kernel's modules folder (lib/modules/<release>), for a "
                "configured kernel; the guest loads what it needs from it"),
    "initrd": (_is_str, "the path of an initramfs joined in front of the guest's own, for "
               "a configured kernel"),
    "smp": (_is_count, "a number of CPUs for the guest, 1 to 64"),
    "memory": (_is_memory, "the guest's memory in MiB, 128 to 65536"),
    "boot_timeout": (lambda value: _valid(seconds, value), TIMEOUT_EXPECTED),
    "shared": (_is_str_list, "a list of host directories the guest may write (the temp and "
               "current directories always are)"),
}


def _valid(validator: Validator, value: Any) -> bool:
    if isinstance(value, str):  # a TOML file gives numbers typed
        return False
    try:
        validator(value, Where("argument", "value"))
    except ConfigError:
        return False
    return True


def check_target_table(table: Mapping[str, Any], where: Where) -> None:
    """Validate one [target.<name>] table (its keys named under `where.name`)."""
    for key, value in table.items():
        if key not in TARGET_KEYS:
            known = ", ".join(TARGET_KEYS)
            raise ConfigError(f"{where.path}: unknown key '{where.name}.{key}' "
                              f"(known keys: {known})")
        valid, expected = TARGET_KEYS[key]
        if not valid(value):
            raise Where("file", f"{where.name}.{key}", where.path).invalid(value, expected)
