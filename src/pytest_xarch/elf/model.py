"""What an ELF file says about itself, as plain values, and the error for what is not ELF."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import XarchError

# e_machine values this package compares against.
EM_386, EM_PPC64, EM_S390, EM_ARM, EM_X86_64, EM_AARCH64, EM_RISCV = 3, 21, 22, 40, 62, 183, 243
EM_MIPS = 8

# e_machine -> the name a person knows the architecture by.
MACHINE_NAMES: Mapping[int, str] = {
    0: "no machine",
    2: "SPARC",
    3: "x86 (32-bit)",
    8: "MIPS",
    18: "SPARC (32plus)",
    20: "PowerPC (32-bit)",
    21: "PowerPC (64-bit)",
    22: "IBM S/390",
    40: "ARM (32-bit)",
    42: "SuperH",
    43: "SPARC V9",
    50: "IA-64",
    62: "x86-64",
    183: "AArch64",
    243: "RISC-V",
    247: "BPF",
    258: "LoongArch",
}

# ARM Tag_CPU_arch values (ARM IHI 0045, "Addenda to the ARM ELF ABI").
ARM_CPU_ARCH_NAMES: Mapping[int, str] = {
    0: "pre-ARMv4", 1: "ARMv4", 2: "ARMv4T", 3: "ARMv5T", 4: "ARMv5TE", 5: "ARMv5TEJ",
    6: "ARMv6", 7: "ARMv6KZ", 8: "ARMv6T2", 9: "ARMv6K", 10: "ARMv7", 11: "ARMv6-M",
    12: "ARMv6S-M", 13: "ARMv7E-M", 14: "ARMv8-A", 15: "ARMv8-R", 16: "ARMv8-M.baseline",
    17: "ARMv8-M.mainline", 18: "ARMv8.1-A", 19: "ARMv8.2-A", 20: "ARMv8.3-A",
    21: "ARMv8.1-M.mainline", 22: "ARMv9-A",
}

class ElfError(XarchError):
    """The file's content is not a readable ELF object.

    `code` is the finding code it stands for: `not-elf` (no ELF magic) or
    `corrupt-elf` (headers or tables unreadable, truncated or inconsistent).
    """

    def __init__(self, code: str, detail: str, path: Optional[str] = None) -> None:
        super().__init__(f"{path}: {detail}" if path else detail)
        self.code = code
        self.detail = detail  # the message without the path


@dataclass(frozen=True)
class VersionNeed:
    """One `.gnu.version_r` requirement: `library` must define `version`."""

    library: str
    version: str
    weak: bool = False
    symbols: tuple[str, ...] = ()


@dataclass(frozen=True)
class ElfFacts:
    """What an ELF file says about itself, as plain values (the file is never run)."""

    size: int
    digest: str  # sha256 of the content
    bits: int  # 32 or 64
    endian: str  # "little" or "big"
    machine: int  # e_machine
    osabi: int
    elf_type: int  # e_type
    flags: int  # e_flags
    entry: int
    kind: str  # executable, pie, shared-object, relocatable, core, unknown
    linkage: str  # static, static-pie, dynamic
    interp: Optional[str] = None
    needed: tuple[str, ...] = ()
    rpath: tuple[str, ...] = ()
    runpath: tuple[str, ...] = ()
    soname: Optional[str] = None
    flags_1: int = 0
    version_needs: tuple[VersionNeed, ...] = ()
    version_defs: tuple[str, ...] = ()
    load_aligns: tuple[int, ...] = ()
    gnu_stack: Optional[str] = None  # "rw", "rwx", ... or None when absent
    # Per-architecture decoding of e_flags and build attributes.
    arm_eabi: Optional[int] = None
    float_abi: Optional[str] = None  # ARM hard/soft; RISC-V soft/single/double/quad
    riscv_rvc: Optional[bool] = None
    mips_abi: Optional[str] = None
    arm_attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)
    riscv_arch: Optional[str] = None
    section_names: tuple[str, ...] = ()

    @property
    def machine_name(self) -> str:
        """The architecture in human words, e.g. ``AArch64``."""
        return MACHINE_NAMES.get(self.machine, f"e_machine {self.machine}")

    @property
    def arm_cpu_arch(self) -> Optional[int]:
        """ARM Tag_CPU_arch, or None (not ARM, or no build attributes)."""
        value = self.arm_attributes.get("cpu_arch")
        return value if isinstance(value, int) else None


def version_key(version: str) -> tuple[int, ...]:
    """`GLIBC_2.34` or `2.34` -> (2, 34), for comparisons; () when there are no numbers."""
    match = re.search(r"(\d+(?:\.\d+)*)$", version)
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()




def corrupt(message: str) -> ElfError:
    """The error for an ELF file whose tables cannot be read."""
    return ElfError("corrupt-elf", message)
