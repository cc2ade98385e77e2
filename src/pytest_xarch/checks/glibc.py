"""The glibc floor: glibc-too-new, with the symbols that need the newer glibc."""

from __future__ import annotations

from typing import Optional

from ..elf import version_key
from ..sysroot import Resolution, sysroot_glibc_version
from .context import CheckContext
from .libraries import GLIBC_VERSION, own_objects, symbol_list


def glibc_floor(ctx: CheckContext, resolution: Optional[Resolution]) -> None:
    if ctx.target.libc != "glibc":
        return
    needs = [
        n for _, group in own_objects(ctx, resolution) for n in group
        if not n.weak and GLIBC_VERSION.fullmatch(n.version)
    ]
    if not needs:
        return
    floor, source = _floor(ctx)
    if floor is None:
        return
    too_new = [n for n in needs if version_key(n.version) > version_key(floor)]
    if not too_new:
        return
    newest = max(too_new, key=lambda n: version_key(n.version))
    ctx.add(
        "glibc-too-new",
        f"requires {newest.version}{symbol_list(too_new)} but target "
        f"'{ctx.target.name}' has glibc {floor} ({source}): build against the oldest "
        f"glibc you support (a glibc {floor} sysroot or build image), or link statically "
        "(-static, or against musl)",
        required=newest.version, floor=floor, floor_source=source,
        symbols={n.version: list(n.symbols) for n in too_new},
    )

def _floor(ctx: CheckContext) -> tuple[Optional[str], str]:
    if ctx.glibc:
        return ctx.glibc, "the glibc floor given"
    if ctx.target.glibc:
        return ctx.target.glibc, "its glibc setting"
    if ctx.sysroot is not None:
        found = sysroot_glibc_version(ctx.sysroot, ctx.target)
        if found:
            return found, f"the glibc of the sysroot {ctx.sysroot}"
    return None, ""


