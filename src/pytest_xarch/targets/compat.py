"""Which code runs where: one home for the compatibility facts between targets and machines.

- a target's ELF identity and the binfmt_misc magic and mask that catch its programs;
- what this host's CPU executes (the runner's choice), what this host's kernel runs
  without help (binfmt_misc must never catch those), and what a device of a given
  `uname -m` can run (the SSH runner's check): three questions, three answers;
- the libc a program was built for, told by its loader.

Functions that depend on the host take it as an argument (default: this host),
so that they can be asked about any host.
"""

from __future__ import annotations

import os
from typing import Literal, Optional

from .model import ELF_MAGIC, Target, builtin_registry, host_target

# `uname -m` -> built-in targets whose programs a CPU and kernel of that kind run.
# Permissive on purpose (it refuses devices that certainly cannot run a target): an
# AArch64 core may lack AArch32 (Graviton), an x86-64 kernel may lack IA32 support.
_MACHINE_RUNS: dict[str, tuple[str, ...]] = {
    "x86_64": ("x86_64", "i686"), "amd64": ("x86_64", "i686"),
    "aarch64": ("aarch64", "armv7", "armel"), "arm64": ("aarch64", "armv7", "armel"),
    "armv8l": ("armv7", "armel"), "armv7l": ("armv7", "armel"), "armv6l": ("armel",),
    "armv5tel": ("armel",), "armv5tejl": ("armel",),
    "riscv64": ("riscv64",), "ppc64le": ("ppc64le",), "s390x": ("s390x",),
    "i686": ("i686",), "i586": ("i686",), "i386": ("i686",),
}
_X86_64, _I386 = 62, 3


def same_isa(a: Target, b: Target) -> bool:
    """Whether code of `a` and of `b` is the same instruction set, word size and byte order."""
    return a.isa == b.isa


def host_executes(target: Target, host: Optional[Target] = None) -> bool:
    """Whether the host's CPU runs `target`'s programs itself, so a native runner can.

    Only the host's own instruction set: i686 code on an x86-64 host would run, but
    the host has no i686 loader and libraries of its own, so i686 is emulated with
    its sysroot instead.
    """
    return same_isa(host or host_target(), target)


def kernel_runs_natively(target: Target, host: Optional[Target] = None) -> bool:
    """Whether the host's kernel runs `target`'s programs without a binfmt_misc handler.

    Its own instruction set, and i386 code on x86-64 (IA32 emulation, on in every
    distribution kernel). AArch32 on AArch64 is not assumed: many cores lack it.
    """
    host = host or host_target()
    if same_isa(host, target):
        return True
    return host.machine == _X86_64 and target.isa == (_I386, 32, "little")


def machine_runs(uname_machine: str, target: Target) -> bool:
    """Whether a device whose `uname -m` is `uname_machine` can run `target`'s programs."""
    runnable = [builtin_registry().resolve(name) for name in _MACHINE_RUNS.get(uname_machine, ())]
    return any(same_isa(other, target) for other in runnable)


def uses_musl(interp: Optional[str]) -> bool:
    """Whether a program with this PT_INTERP was linked against musl (`/lib/ld-musl-*.so.1`)."""
    return interp is not None and os.path.basename(interp).startswith("ld-musl-")


def libc_counterpart(target: Target, libc: str) -> Optional[str]:
    """The built-in target with `target`'s ISA and float ABI but `libc`, if there is one."""
    for other in builtin_registry():
        if same_isa(other, target) and other.float_abi == target.float_abi and other.libc == libc:
            return other.name
    return None


def _byteorder(target: Target) -> Literal["little", "big"]:
    return "little" if target.endian == "little" else "big"


def has_target_identity(path: str | os.PathLike[str], target: Target) -> bool:
    """Whether the file's ELF header says the target's machine, class and byte order
    (20 bytes read, nothing parsed: cheap enough for every start-up)."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(20)
    except OSError:
        return False
    if len(head) < 20 or not head.startswith(ELF_MAGIC):
        return False
    order = _byteorder(target)
    return (head[4] == (1 if target.bits == 32 else 2) and head[5] == (1 if order == "little"
            else 2) and int.from_bytes(head[18:20], order) == target.machine)


def multiarch_names(target: Target) -> list[str]:
    """Debian multiarch directory names of the target (i686 lives in i386-linux-gnu)."""
    names = [target.triple]
    arch, _, rest = target.triple.partition("-")
    if arch in {"i686", "i586", "i486"}:
        names.append(f"i386-{rest}")
    return names


def binfmt_magic(target: Target) -> bytes:
    """The first 20 bytes of the target's executables, as a binfmt_misc magic."""
    order = _byteorder(target)
    ident = ELF_MAGIC + bytes([1 if target.bits == 32 else 2, 1 if order == "little" else 2])
    ident += b"\x01" + b"\x00" * 9
    return ident + (2).to_bytes(2, order) + target.machine.to_bytes(2, order)


def binfmt_mask(target: Target) -> bytes:
    """Mask for `binfmt_magic`: ignores OS/ABI and padding, lets ET_DYN (PIE) match."""
    etype_mask = b"\xfe\xff" if target.endian == "little" else b"\xff\xfe"
    return b"\xff" * 7 + b"\x00" * 9 + etype_mask + b"\xff\xff"


def elf_headers(target: Target) -> list[bytes]:
    """Canonical first 20 bytes of the target's executables: ET_EXEC and ET_DYN, SysV and GNU."""
    order = _byteorder(target)
    headers = []
    for osabi in (0, 3):
        for e_type in (2, 3):
            ident = ELF_MAGIC + bytes([1 if target.bits == 32 else 2,
                                       1 if order == "little" else 2, 1, osabi])
            ident += b"\x00" * 8
            headers.append(ident + e_type.to_bytes(2, order) + target.machine.to_bytes(2, order))
    return headers
