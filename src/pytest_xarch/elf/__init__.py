"""ELF facts via pyelftools. Nothing here ever executes the file.

`read_facts(path)` reads everything static verification needs in one pass and
caches it by file content (`cache`); `reader` decodes, `versions` and
`attributes` are its hand-decoded, bounds-checked parts; `model` holds the facts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from .cache import clear_cache, read_facts, read_interp
from .model import (
    ARM_CPU_ARCH_NAMES,
    EM_386,
    EM_AARCH64,
    EM_ARM,
    EM_MIPS,
    EM_PPC64,
    EM_RISCV,
    EM_S390,
    EM_X86_64,
    MACHINE_NAMES,
    ElfError,
    ElfFacts,
    VersionNeed,
    version_key,
)

__all__ = [
    "ARM_CPU_ARCH_NAMES", "EM_386", "EM_AARCH64", "EM_ARM", "EM_MIPS", "EM_PPC64", "EM_RISCV",
    "EM_S390", "EM_X86_64", "MACHINE_NAMES", "ElfError", "ElfFacts", "VersionNeed",
    "clear_cache", "iter_elf_files", "read_facts", "read_interp", "version_key",
]


def iter_elf_files(root: Path) -> Iterator[Path]:
    """Regular files under `root` (not following symlinks) that start with the ELF magic."""
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            try:
                with open(path, "rb") as stream:
                    if stream.read(4) == b"\x7fELF":
                        yield path
            except OSError:
                continue
