"""The glibc floor: glibc-too-new, with the symbols that need the newer glibc."""

from __future__ import annotations

from typing import Optional

from ..elf import version_key
from ..loader import Resolution, glibc_release
from .context import CheckContext
from .libraries import GLIBC_VERSION, model, own_objects, symbol_list


def glibc_floor(ctx: CheckContext, resolution: Optional[Resolution]) -> None:
    if ctx.target.libc != "glibc":
        return
    needs = [
        n for _, group in own_objects(ctx, resolution) for n in group
        if not n.weak and GLIBC_VERSION.fullmatch(n.version)
    ]
    if not needs:
        return
    floor, source = _floor(ctx, resolution)
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

def _floor(ctx: CheckContext, resolution: Optional[Resolution]) -> tuple[Optional[str], str]:
    """The floor given, else the target's setting, else the libc.so.6 the loader will load."""
    if ctx.glibc:
        return ctx.glibc, "the glibc floor given"
    if ctx.target.glibc:
        return ctx.target.glibc, "its glibc setting"
    if ctx.root is None:
        return None, ""
    loaded = resolution.find("libc.so.6") if resolution is not None else None
    libc = loaded.path if loaded else model(ctx).system_library("libc.so.6", ctx.facts)
    found = glibc_release(libc) if libc is not None else None
    return (found, f"the glibc of {libc}") if found else (None, "")


