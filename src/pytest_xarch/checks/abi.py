"""ABI and ISA: float-abi, isa-level, page-align."""

from __future__ import annotations

from ..elf import ARM_CPU_ARCH_NAMES
from .context import CheckContext

_ARM_M_PROFILE = {11, 12, 13, 16, 17, 21}  # Tag_CPU_arch values not comparable with A-profile


def _arm_arch(value: int) -> str:
    return ARM_CPU_ARCH_NAMES.get(value, f"Tag_CPU_arch {value}")


def float_abi(ctx: CheckContext) -> None:
    facts, target = ctx.facts, ctx.target
    if not target.float_abi or not facts.float_abi or facts.float_abi == target.float_abi:
        return
    if facts.machine == 40:
        sibling = "armel" if facts.float_abi == "soft" else "armv7"
        flag = "-mfloat-abi=hard" if target.float_abi == "hard" else "-mfloat-abi=soft"
        ctx.add(
            "float-abi",
            f"{facts.float_abi}-float ABI, target '{target.name}' uses the "
            f"{target.float_abi}-float ABI: build with {target.triple}-gcc (or {flag}); "
            f"{facts.float_abi}-float binaries are for target '{sibling}'",
            found=facts.float_abi, expected=target.float_abi,
        )
        return
    abi = {"soft": "lp64", "single": "lp64f", "double": "lp64d", "quad": "lp64q"}
    ctx.add(
        "float-abi",
        f"float ABI '{facts.float_abi}' ({abi.get(facts.float_abi, '?')}), target "
        f"'{target.name}' uses '{target.float_abi}': build with "
        f"-mabi={abi.get(target.float_abi, target.float_abi)} (the target's toolchain "
        "default)",
        found=facts.float_abi, expected=target.float_abi,
    )

def isa_level(ctx: CheckContext) -> None:
    facts, target = ctx.facts, ctx.target
    found, wanted = facts.arm_cpu_arch, target.arm_cpu_arch
    if facts.machine != 40 or found is None or wanted is None:
        return
    if found in _ARM_M_PROFILE or found <= wanted:
        return
    ctx.add(
        "isa-level",
        f"built for {_arm_arch(found)} (Tag_CPU_arch {found}), target '{target.name}' is "
        f"{_arm_arch(wanted)}: its CPU cannot execute these instructions; build with "
        f"-march matching {_arm_arch(wanted)} (the {target.triple}-gcc default) or choose "
        "a target with a newer CPU",
        found=found, found_name=_arm_arch(found), expected=wanted,
        expected_name=_arm_arch(wanted),
    )

def page_align(ctx: CheckContext) -> None:
    facts = ctx.facts
    if facts.kind not in ("executable", "pie", "shared-object") or not facts.load_aligns:
        return
    smallest = min(facts.load_aligns)
    if smallest >= ctx.page_size:
        return
    ctx.add(
        "page-align",
        f"PT_LOAD segments aligned to {_bytes(smallest)}, target '{ctx.target.name}' has "
        f"{_bytes(ctx.page_size)} pages: the kernel cannot map it (QEMU uses the host's "
        f"4 KiB pages and cannot show this); relink with "
        f"-Wl,-z,max-page-size={ctx.page_size}",
        p_align=smallest, page_size=ctx.page_size,
    )

# -- loader and libraries ----------------------------------------------



def _bytes(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} bytes"
