"""The library's front door: target names become `Target`s here, through the settings.

`run`, `check`, `runner_for` and `resolve_target` accept any spelling of a built-in
target and the targets the project defines (`[target.<name>]` in the nearest
xarch.toml or pyproject.toml, from the current directory upwards, or the file
`XARCH_CONFIG` names), and apply the project's settings (emulation factor, the
check before a run, the output limit, containment) unless told otherwise.
Everything below takes `Target` objects.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

from .targets import Target

if TYPE_CHECKING:
    from .checks import Finding
    from .runners import Runner, RunResult
    from .settings import Settings

TargetArg = Union[Target, str]


def settings(start: Optional[Path] = None) -> Settings:
    """The project's settings, found from `start` (default: the current directory)."""
    from .settings import load_settings

    return load_settings(start)


def resolve_target(name: TargetArg, *, start: Optional[Path] = None) -> Target:
    """The target `name` stands for: a built-in one, or one the project defines."""
    return settings(start).resolve(name)


def runner_for(target: TargetArg, *, cpu: Optional[str] = None,
               sysroot: Optional[str] = None) -> Runner:
    """The runner that executes binaries of `target` on this host."""
    from .runners import runner_for as choose

    return choose(resolve_target(target), cpu=cpu, sysroot=sysroot)


def run(target: TargetArg, argv: Sequence[Union[str, bytes]], *, check: Optional[bool] = None,
        **options: Any) -> RunResult:
    """Run `argv` for `target` (see `runners.launch.run` for the options).

    `check` (default: the project's `check_before_run`) verifies the program
    statically first; `emulation_factor` and `output_limit` default to the
    project's settings too.
    """
    from . import containment
    from .runners import run as launch
    from .verdicts import precheck

    project = settings()
    containment.configure(project.containment)
    options.setdefault("emulation_factor", project.emulation_factor)
    options.setdefault("output_limit", project.output_limit)
    wanted = project.check_before_run if check is None else check
    return launch(project.resolve(target), argv, precheck=precheck if wanted else None,
                  **options)


def check(path: Union[str, os.PathLike[str]], target: TargetArg, **options: Any) -> list[Finding]:
    """Static verification of `path` for `target` (see `checks.check_file` for the options)."""
    from .checks import check_file

    return check_file(path, resolve_target(target), **options)
