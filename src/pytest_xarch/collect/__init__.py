"""Collectors for cross-built test executables: GoogleTest, Catch2, doctest, Go, Rust, CTest.

`collect_file` is the plugin's seam: a CMake build tree's top CTestTestfile.cmake
becomes a `CTestTree`; an executable ELF whose name matches the patterns (or a
libtest binary named the way cargo names them, `deps/<crate>-<hash>`) and that
is built for at least one selected target becomes a `BinaryFile`, whose items
are its cases per target. Everything else is left to other collectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import pytest

from ..errors import XarchError
from .options import CollectOptions, options_from

if TYPE_CHECKING:
    from ..state import SessionState

__all__ = ["OPTIONS", "collect_file", "options_for", "passed_over_lines"]

OPTIONS = pytest.StashKey[CollectOptions]()


def options_for(config: pytest.Config, state: SessionState) -> CollectOptions:
    """The collector options of this session (made once)."""
    if OPTIONS not in config.stash:
        config.stash[OPTIONS] = options_from(state.settings)
    return config.stash[OPTIONS]


def collect_file(
    file_path: Path, parent: pytest.Collector, state: SessionState
) -> Optional[pytest.Collector]:
    """A collector for `file_path` when it is a test executable for a selected target.

    Executables passed over are noted in `state.passed_over`, so that a directory
    that yields nothing can say why. A binary named on the command line is
    collected whatever its name.
    """
    from .ctest import CTEST_FILE, CTestTree, in_ctest_tree, is_ctest_root

    options = options_for(parent.config, state)
    explicit = parent.session.isinitpath(file_path)
    if file_path.name == CTEST_FILE:
        if options.ctest and (is_ctest_root(file_path) or
                              parent.session.isinitpath(file_path.parent)):
            return CTestTree.from_parent(parent, path=file_path, state=state, options=options)
        return None
    if file_path.name == "CMakeCache.txt" and not (file_path.parent / CTEST_FILE).exists():
        state.passed_over.append((str(file_path.parent), "a CMake build tree without "
                                  f"{CTEST_FILE} (does its CMakeLists.txt call enable_testing()?)"))
        return None
    from .identify import is_cargo_output, is_executable_elf, matches_patterns

    named = explicit or matches_patterns(file_path, options.patterns)
    if not is_executable_elf(file_path):
        return None
    if not (named or is_cargo_output(file_path)):
        state.passed_over.append((str(file_path), "its name matches none of the patterns "
                                  f"({', '.join(options.patterns)})"))
        return None
    if options.ctest and not explicit and in_ctest_tree(file_path, Path(parent.config.rootpath)):
        return None  # the tree's CTestTestfile.cmake collects it
    return _binary(file_path, parent, state, options, only_rust=not named)


def _binary(file_path: Path, parent: pytest.Collector, state: SessionState,
            options: CollectOptions, *, only_rust: bool = False) -> Optional[pytest.Collector]:
    """The binary's collector; `only_rust`: found by cargo's naming, so only a libtest one."""
    from ..elf import read_facts
    from .identify import identify, matching_targets
    from .items import BinaryFile

    try:
        facts = read_facts(file_path)
    except XarchError:
        return None  # not a readable ELF: not a test binary
    targets = matching_targets(facts, state.targets)
    if not targets:
        selected = ", ".join(target.name for target in state.targets)
        state.passed_over.append((str(file_path), f"built for {facts.machine_name} "
                                  f"{facts.bits}-bit, none of the selected targets ({selected})"))
        return None
    kind = identify(file_path, facts)
    if only_rust and kind != "rust":
        return None  # a program cargo built, not a test binary
    return BinaryFile.from_parent(
        parent, path=file_path, kind=kind, targets=targets, state=state, options=options,
        facts=facts,
    )


def passed_over_lines(state: SessionState, limit: int = 10) -> list[str]:
    """Why nothing (more) was collected: the executables and trees passed over."""
    if not state.passed_over:
        return []
    lines = [f"xarch: {len(state.passed_over)} executable(s) or build tree(s) passed over:"]
    lines += [f"  {path}: {reason}" for path, reason in state.passed_over[:limit]]
    if len(state.passed_over) > limit:
        lines.append(f"  ... and {len(state.passed_over) - limit} more")
    return lines
