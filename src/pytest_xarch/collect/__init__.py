"""Collectors for cross-built test executables: GoogleTest, Catch2, doctest, Go, Rust, CTest.

`collect_file` is the plugin's seam: a CMake build tree's top CTestTestfile.cmake
becomes a `CTestTree`; an executable ELF whose name matches the patterns and
that is built for at least one selected target becomes a `BinaryFile`, whose
items are its cases per target. Everything else is left to other collectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import pytest

from ..config import parse_timeout
from ..errors import XarchError
from .options import CollectOptions, load_options

if TYPE_CHECKING:
    from ..session import XarchSession

__all__ = ["OPTIONS", "collect_file", "options_for"]

OPTIONS = pytest.StashKey[CollectOptions]()


def _ini_seconds(config: pytest.Config, name: str) -> Optional[float]:
    return parse_timeout(str(config.getini(name)), f"ini option {name}")


def options_for(config: pytest.Config, state: XarchSession) -> CollectOptions:
    """The collector options of this session (read once)."""
    if OPTIONS not in config.stash:
        try:
            ini = {
                "patterns": config.getini("xarch_binary_patterns"),
                "isolate": config.getini("xarch_isolate"),
                "case_timeout": _ini_seconds(config, "xarch_case_timeout"),
                "binary_timeout": _ini_seconds(config, "xarch_binary_timeout"),
            }
            flag = bool(config.getoption("xarch_isolate", default=False))
            config.stash[OPTIONS] = load_options(state.settings.source, ini=ini, isolate_flag=flag)
        except XarchError as error:
            raise pytest.UsageError(str(error)) from None
    return config.stash[OPTIONS]


def collect_file(
    file_path: Path, parent: pytest.Collector, state: XarchSession
) -> Optional[pytest.Collector]:
    """A collector for `file_path` when it is a test executable for a selected target."""
    from .ctest import CTEST_FILE, CTestTree, in_ctest_tree, is_ctest_root

    options = options_for(parent.config, state)
    if file_path.name == CTEST_FILE:
        if options.ctest and is_ctest_root(file_path):
            return CTestTree.from_parent(parent, path=file_path, state=state, options=options)
        return None
    from .identify import is_executable_elf, matches_patterns

    if not matches_patterns(file_path, options.patterns) or not is_executable_elf(file_path):
        return None
    explicit = parent.session.isinitpath(file_path)
    if options.ctest and not explicit and in_ctest_tree(file_path, Path(parent.config.rootpath)):
        return None  # the tree's CTestTestfile.cmake collects it
    return _binary(file_path, parent, state, options)


def _binary(file_path: Path, parent: pytest.Collector, state: XarchSession,
            options: CollectOptions) -> Optional[pytest.Collector]:
    from ..elf import read_facts
    from .identify import identify, matching_targets
    from .items import BinaryFile

    try:
        facts = read_facts(file_path)
    except XarchError:
        return None  # not a readable ELF: not a test binary
    targets = matching_targets(facts, state.targets)
    if not targets:
        return None
    return BinaryFile.from_parent(
        parent, path=file_path, kind=identify(file_path, facts), targets=targets, state=state,
        options=options, facts=facts,
    )
