"""Command-line and ini options, declared from the one settings schema, and read back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..errors import ConfigError
from ..settings import KEYS, CommandLine, Settings, load_settings


def add_options(parser: pytest.Parser) -> None:
    """--xarch* options, and an ini option for every setting that has one."""
    group = parser.getgroup("xarch", "cross-architecture testing (pytest-xarch)")
    group.addoption(
        "--xarch", metavar="T1,T2", default=None,
        help="targets to run xarch tests for, e.g. aarch64,armv7 (default: configured "
        "targets, else this host's)",
    )
    group.addoption(
        "--xarch-runner", metavar="TARGET=RUNNER", action="append", default=[],
        help="override a target's runner, e.g. aarch64=ssh://pi@board, aarch64=system or "
             "armv7=qemu",
    )
    group.addoption(
        "--xarch-min-fidelity", metavar="LEVEL", default=None,
        help="fail the session when a test was obtained below LEVEL "
        "(static, emulated, system, native, hardware)",
    )
    group.addoption(
        "--xarch-report", metavar="PATH", default=None,
        help="write a JSON report: one record per test and per target",
    )
    group.addoption(
        "--xarch-canary", action="store_true", default=None,
        help="run the self-test canary for each target first; a failing target's tests "
        "become errors",
    )
    group.addoption(
        "--xarch-isolate", action="store_true", default=None,
        help="run each case of a collected test binary in its own launch (default: one "
        "launch per binary and target)",
    )
    group.addoption(
        "--xarch-run-disabled", action="store_true", default=None,
        help="run GoogleTest's DISABLED_ tests of collected binaries too (default: skipped)",
    )
    for key in KEYS:
        if key.ini:
            default: Any = [] if key.ini_type == "args" else (
                None if key.ini_type == "bool" else "")
            parser.addini(key.ini, type=key.ini_type, default=default, help=key.help)


# key -> option dest and its spelling, for the settings' precedence.
CLI_KEYS = {
    "targets": ("xarch", "--xarch"),
    "min_fidelity": ("xarch_min_fidelity", "--xarch-min-fidelity"),
    "canary": ("xarch_canary", "--xarch-canary"),
    "isolate": ("xarch_isolate", "--xarch-isolate"),
    "run_disabled": ("xarch_run_disabled", "--xarch-run-disabled"),
}


def command_line(config: pytest.Config) -> CommandLine:
    """The settings given on the command line, as (value, option) by key."""
    given = {}
    for key, (dest, option) in CLI_KEYS.items():
        value = config.getoption(dest)
        if value is not None:
            given[key] = (value, option)
    return given


def load(config: pytest.Config) -> Settings:
    """The session's settings: command line > environment > config file > ini > defaults."""
    return load_settings(Path(config.rootpath), cli=command_line(config), ini=config.getini)


def check_report_path(path: Path) -> None:
    """--xarch-report must name a file we can create (checked before any test runs)."""
    if path.is_dir():
        raise ConfigError(f"--xarch-report {path} is a directory: give the path of a file, "
                          f"e.g. {path / 'xarch-report.json'}")
    folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), Path("/"))
    if not folder.is_dir():
        raise ConfigError(f"--xarch-report {path}: {folder} is not a directory")
