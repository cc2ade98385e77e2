"""Identity: wrong-machine, wrong-class, wrong-endian (nothing else means anything then)."""

from __future__ import annotations

from typing import Any

from ..elf import MACHINE_NAMES
from ..targets import builtin_registry, host_target
from .context import CheckContext


def _machine_title(machine: int, bits: int) -> str:
    name = MACHINE_NAMES.get(machine, f"e_machine {machine}")
    return f"{name} {bits}-bit" if machine in (243, 8, 2) else name


def identity(ctx: CheckContext) -> bool:
    facts, target = ctx.facts, ctx.target
    if facts.machine != target.machine:
        ctx.add(
            "wrong-machine",
            f"{_machine_title(facts.machine, facts.bits)} code, expected "
            f"{_machine_title(target.machine, target.bits)} for target '{target.name}': "
            f"{_machine_hint(ctx)}",
            found=facts.machine, found_name=facts.machine_name, expected=target.machine,
        )
    if facts.bits != target.bits:
        _mismatch(ctx,
            "wrong-class",
            f"{facts.bits}-bit ELF, target '{target.name}' runs {target.bits}-bit programs",
            f"build with {target.triple}-gcc without -m{facts.bits}, -mx32 or -mabi "
            "options that change the word size",
            found=facts.bits, expected=target.bits,
        )
    if facts.endian != target.endian:
        _mismatch(ctx,
            "wrong-endian",
            f"{facts.endian}-endian code, target '{target.name}' is {target.endian}-endian",
            f"rebuild with the {target.triple} toolchain and no -m{facts.endian}-endian "
            "option",
            found=facts.endian, expected=target.endian,
        )
    return not ctx.findings

def _mismatch(ctx: CheckContext, code: str, message: str, fix: str, **facts: Any) -> None:
    """An identity finding; its fix is named only when no earlier one named the real fix."""
    ctx.add(code, f"{message}: {fix}" if not ctx.findings else message, **facts)

def _machine_hint(ctx: CheckContext) -> str:
    facts, target = ctx.facts, ctx.target
    compiler = f"{target.triple}-gcc"
    try:
        host = host_target()
    except Exception:
        host = None
    if host is not None and (host.machine, host.bits) == (facts.machine, facts.bits):
        return f"was the host compiler used instead of the cross compiler ({compiler})?"
    for other in builtin_registry():
        if (other.machine, other.bits, other.endian) == (
            facts.machine, facts.bits, facts.endian
        ) and other.libc == "glibc":
            return (f"it looks built for target '{other.name}'; build it with {compiler} "
                    f"or check it with --target {other.name}")
    return f"build it with the {target.triple} cross toolchain ({compiler})"

# -- ABI and ISA ------------------------------------------------------

