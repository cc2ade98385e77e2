"""xdist scheduling that keeps a test binary's cases together: one launch per binary and
target, whatever `-n` is, with binaries spread across the workers.

xdist's `load` mode hands out single tests, which splits a binary's cases over the
workers (each worker then launches the binary for its share), and `loadgroup`'s
`xdist_group` marks are not applied under pytest 9.2 (xdist sets `item._nodeid`,
which pytest no longer reads). So the scheduler is chosen here: xdist's load-scope
scheduler, with a scope per test binary and target for the cases of collected
binaries, and otherwise what the chosen mode means (`load`: each test on its own;
`loadscope`: its module or class; `loadgroup`: its `@group` suffix when there is one).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Optional

import pytest

from ..collect.ctest import CTEST_FILE
from ..collect.identify import has_elf_magic

# `<file>::<case ...>[<target>]`: a case of a collected binary (see collect.items).
_CASE_ID = re.compile(r"^(?P<file>[^:]+)::(?P<case>.+)\[(?P<target>[^\[\]]+)\]$")
MODES = ("load", "loadscope", "loadgroup")


def make_scheduler(config: pytest.Config, log: Any) -> Optional[Any]:
    """The scheduler for `config`'s `--dist` mode, or None to leave it to xdist."""
    mode = config.getvalue("dist")
    if mode not in MODES:
        return None
    from xdist.scheduler import LoadScopeScheduling

    root = Path(config.rootpath)

    class BinaryScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """Load-scope scheduling whose scope of a binary's case is the binary and target."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.positions: dict[Any, dict[str, int]] = {}  # node -> nodeid -> its index

        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid, mode, root)

        def remove_node(self, node: Any) -> Optional[str]:
            # xdist's load-scope scheduler puts the test a crashed worker was running back
            # in the queue with the rest of its unit, so it would run (and crash) again:
            # it is done, as xdist's load scheduler has it (reported failed by xdist).
            for unit in self.assigned_work.get(node, {}).values():
                crashed: Optional[str] = next(
                    (nodeid for nodeid, done in unit.items() if not done), None)
                if crashed is not None:
                    unit[crashed] = True
                    super().remove_node(node)
                    return crashed
            return super().remove_node(node)  # type: ignore[no-any-return]

        def _assign_work_unit(self, node: Any) -> None:
            # xdist finds each id with list.index(): quadratic in a 10,000-case binary.
            scope, work_unit = self.workqueue.popitem(last=False)
            self.assigned_work.setdefault(node, {})[scope] = work_unit
            if node not in self.positions:
                self.positions[node] = {nodeid: index for index, nodeid in
                                        enumerate(self.registered_collections[node])}
            positions = self.positions[node]
            node.send_runtest_some([positions[nodeid] for nodeid, done in work_unit.items()
                                    if not done])

    return BinaryScheduling(config, log)


def scope_of(nodeid: str, mode: str, root: Path) -> str:
    """The work unit `nodeid` belongs to under `mode`."""
    if mode == "loadgroup" and nodeid.rfind("@") > nodeid.rfind("]"):
        return nodeid.rsplit("@", 1)[-1]
    case = _CASE_ID.match(nodeid)
    if case and is_binary(root / case.group("file")):
        return f"{case.group('file')}::[{case.group('target')}]"
    if case and case.group("file").endswith(CTEST_FILE) and "/" in case.group("case"):
        # A CTest test's cases (`<test>/<case>`), or a ctest test named with a slash
        # (gtest_discover_tests' parameterized ones): kept together either way.
        test = case.group("case").split("/", 1)[0]
        return f"{case.group('file')}::{test}/[{case.group('target')}]"
    return nodeid.rsplit("::", 1)[0] if mode == "loadscope" else nodeid


@functools.lru_cache(maxsize=4096)
def is_binary(path: Path) -> bool:
    """Whether the file is an ELF program (a collected test binary, not a test module)."""
    return has_elf_magic(path)
