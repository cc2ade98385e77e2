"""Which files are test executables, which framework built them, which targets they run on.

Nothing here runs the file: names are matched against patterns, the ELF header
is read with `elf.read_facts`, and the framework is recognised from strings and
symbol names that every binary of that framework carries (also when stripped).
"""

from __future__ import annotations

import fnmatch
import mmap
import os
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from ..elf import ElfFacts
from ..targets import ELF_MAGIC, Target, uses_musl
from .base import Framework

if TYPE_CHECKING:
    from .options import CollectOptions

# framework -> (any of these bytes, and also any of these when given): the one place that
# knows how each framework's binaries look.
_NEEDLES: tuple[tuple[str, tuple[bytes, ...], tuple[bytes, ...]], ...] = (
    ("gtest", (b"_ZN7testing4Test", b"gtest_list_tests"), ()),
    ("catch2", (b"_ZN5Catch", b"list-test-names-only", b"Catch::Session"), ()),
    ("doctest", (b"_ZN7doctest", b"dt-list-test-cases"), ()),
    ("rust", (b"RUST_TEST_THREADS", b"test-threads"), (b"rust_begin_unwind", b"/rustc/")),
    ("go", (b"testing.tRunner",), (b"Go buildinf:", b"runtime.goexit")),
    # unity.c's summary words, and its symbols or its own error texts (kept when stripped).
    ("unity", (b" Failures \0",), (b"UnityDefaultTestRun", b"Unity Floating Point Disabled",
                                    b"Unity Double Precision Disabled")),
)
_MAX_SCAN = 512 << 20  # larger files are still scanned, only their first 512 MiB
_known: dict[str, str] = {}
_lock = threading.Lock()


def matches_patterns(path: Path, patterns: Iterable[str]) -> bool:
    """Whether the file's name (or its path, for patterns with a slash) matches a pattern."""
    text = path.as_posix()
    return any(
        fnmatch.fnmatchcase(text if "/" in pattern else path.name, pattern)
        or ("/" in pattern and fnmatch.fnmatchcase(text, "*/" + pattern.lstrip("/")))
        for pattern in patterns
    )


_CARGO_NAME = re.compile(r"[A-Za-z0-9_]+-[0-9a-f]{16}")


def is_cargo_output(path: Path) -> bool:
    """Whether the name is how cargo names what it builds: `deps/<crate>-<16 hex digits>`
    (test binaries among them; only libtest ones are collected under this name)."""
    return path.parent.name == "deps" and bool(_CARGO_NAME.fullmatch(path.name))


def has_elf_magic(path: str | Path) -> bool:
    """Whether the file starts with the ELF magic number (False if it cannot be read)."""
    try:
        with open(path, "rb") as stream:
            return stream.read(4) == ELF_MAGIC
    except OSError:
        return False


def is_executable_elf(path: Path) -> bool:
    """A regular, executable file that starts with the ELF magic number."""
    try:
        if not path.is_file() or not os.access(path, os.X_OK):
            return False
    except OSError:
        return False
    return has_elf_magic(path)


def identify(path: Path, facts: ElfFacts) -> str:
    """`gtest`, `catch2`, `doctest`, `rust`, `go`, `unity` or `plain`, cached by content digest."""
    with _lock:
        known = _known.get(facts.digest)
    if known is None:
        known = _scan(path)
        with _lock:
            _known[facts.digest] = known
    return known


def _scan(path: Path) -> str:
    try:
        with open(path, "rb") as stream, mmap.mmap(
            stream.fileno(), 0, access=mmap.ACCESS_READ
        ) as data:
            end = min(len(data), _MAX_SCAN)
            for name, needles, also in _NEEDLES:
                if _contains(data, needles, end) and (not also or _contains(data, also, end)):
                    return name
    except (OSError, ValueError):
        return "plain"
    return "plain"


def _contains(data: mmap.mmap, needles: Sequence[bytes], end: int) -> bool:
    return any(data.find(needle, 0, end) >= 0 for needle in needles)


def framework_for(kind: str, case_name: str, options: Optional[CollectOptions] = None
                  ) -> Framework:
    """The Framework object for a kind returned by `identify` (with the collector options
    that concern it)."""
    from .catch2 import Catch2
    from .doctest import Doctest
    from .gotest import GoTest
    from .gtest import GoogleTest
    from .plain import Plain
    from .rust import RustTest
    from .unity import Unity

    frameworks: dict[str, Framework] = {
        "gtest": GoogleTest(run_disabled=bool(options and options.run_disabled)),
        "catch2": Catch2(), "doctest": Doctest(), "rust": RustTest(),
        "go": GoTest(subtests=options.go_subtests if options else True),
        "unity": Unity(),
    }
    return frameworks.get(kind) or Plain(case_name)


def runs_on(facts: ElfFacts, target: Target) -> bool:
    """Whether the binary is built for `target`'s architecture and ABI (class, byte order,
    float ABI, and musl vs glibc for dynamic binaries)."""
    if (facts.machine, facts.bits, facts.endian) != target.isa:
        return False
    if facts.float_abi and target.float_abi and facts.float_abi != target.float_abi:
        return False
    return not facts.interp or uses_musl(facts.interp) == (target.libc == "musl")


def matching_targets(facts: ElfFacts, targets: Sequence[Target]) -> list[Target]:
    """The selected targets the binary runs on, in the selection's order."""
    return [target for target in targets if runs_on(facts, target)]
