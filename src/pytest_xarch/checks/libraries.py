"""The loader and the libraries: libc-mismatch, missing-loader, missing-library."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Optional

from ..elf import VersionNeed, version_key
from ..sysroot import Resolution, resolve_in_sysroot, resolve_libraries, sysroot_search_list
from ..targets import libc_counterpart, uses_musl
from .context import CheckContext
from .model import WARNING

GLIBC_VERSION = re.compile(r"GLIBC_\d+(\.\d+)+")
_SHOWN_SYMBOLS = 6


def libc(ctx: CheckContext) -> bool:
    """libc-mismatch between the program's loader and the target's libc; True when fine."""
    interp, target = ctx.facts.interp, ctx.target
    if not interp:
        return True
    musl = uses_musl(interp)
    if musl == (target.libc == "musl"):
        return True
    built = "musl" if musl else "glibc"
    counterpart = libc_counterpart(target, built)
    also = f", or use target '{counterpart}'" if counterpart else ""
    ctx.add(
        "libc-mismatch",
        f"built for {built} (loader {interp}), target '{target.name}' uses {target.libc} "
        f"(loader {target.loader}): build with the {target.libc} toolchain, or link "
        f"statically (-static) so no loader is needed{also}",
        found=built, expected=target.libc, interp=interp,
    )
    return False

def loader(ctx: CheckContext) -> bool:
    """missing-loader; True when the sysroot is there and holds the loader."""
    interp, target = ctx.facts.interp, ctx.target
    if ctx.sysroot is None:
        looked = ", ".join(sysroot_search_list(target))
        packages = [p for p in target.packages if p.startswith("libc6-dev")]
        install = f"install {' '.join(packages)} or " if packages else ""
        ctx.add(
            "missing-loader",
            f"dynamically linked{f' (loader {interp})' if interp else ''} but no sysroot for "
            f"target '{target.name}' was found (looked in {looked}), so its loader and "
            f"libraries cannot be verified: {install}pass --sysroot (or set `sysroot`)",
            severity=WARNING, interp=interp,
        )
        return False
    if not interp:
        return True
    if resolve_in_sysroot(ctx.sysroot, interp) is not None:
        return True
    if interp != target.loader:
        why = (f"target '{target.name}' uses {target.loader}; the program was linked with "
               f"another loader: relink with {target.triple}-gcc or link statically")
    else:
        why = (f"point --sysroot at a root filesystem of target '{target.name}', or link "
               "statically")
    ctx.add(
        "missing-loader",
        f"dynamically linked, but the sysroot {ctx.sysroot} does not contain {interp}, "
        f"its loader: {why}",
        interp=interp, sysroot=str(ctx.sysroot), expected=target.loader,
    )
    return False

def libraries(ctx: CheckContext) -> Optional[Resolution]:
    """missing-library: DT_NEEDED (transitively) and non-glibc version needs."""
    assert ctx.sysroot is not None
    resolution = resolve_libraries(ctx.path, ctx.facts, ctx.sysroot, ctx.target,
                                   extra_dirs=ctx.extra_dirs)
    for missing in resolution.missing:
        via = "" if missing.needed_by == os.path.basename(ctx.path) else (
            f" (needed by {missing.needed_by})")
        ctx.add(
            "missing-library",
            f"needs {missing.name}{via}, found neither in the sysroot {ctx.sysroot} nor "
            f"on its RPATH/RUNPATH: install the target's package that provides it into "
            f"the sysroot, ship it next to the program (-Wl,-rpath,'$ORIGIN'), or link "
            "it statically",
            library=missing.name, needed_by=missing.needed_by, searched=missing.searched,
        )
    for owner, needs in own_objects(ctx, resolution):
        for library, group in by_library(needs).items():
            _versions_missing(ctx, owner, library, group, resolution)
    return resolution

def own_objects(
    ctx: CheckContext, resolution: Optional[Resolution]
) -> list[tuple[str, tuple[VersionNeed, ...]]]:
    """The program and the libraries it brings along (those outside the sysroot)."""
    owned = [(os.path.basename(ctx.path), ctx.facts.version_needs)]
    if resolution is not None and ctx.sysroot is not None:
        root = os.path.abspath(ctx.sysroot)
        for item in resolution.loaded:
            inside = os.path.commonpath([root, os.path.abspath(item.path)]) == root
            if not inside or item.path.parent == Path(ctx.path).parent:
                owned.append((item.name, item.facts.version_needs))
    return owned

def _versions_missing(
    ctx: CheckContext, owner: str, library: str, needs: list[VersionNeed], resolution: Resolution
) -> None:
    loaded = resolution.find(library)
    if loaded is None:
        return
    defined = set(loaded.facts.version_defs)
    absent = [n for n in needs if not n.weak and n.version not in defined
              and not GLIBC_VERSION.fullmatch(n.version) and n.version != "GLIBC_PRIVATE"]
    if not absent or not defined:
        return
    newest = max(absent, key=lambda n: version_key(n.version))
    provided = [v for v in loaded.facts.version_defs if v.split("_")[0] ==
                newest.version.split("_")[0]]
    upto = max(provided, key=version_key) if provided else None
    symbols = symbol_list(absent)
    ctx.add(
        "missing-library",
        f"{owner} needs {newest.version} from {library}{symbols}, but the sysroot's "
        f"{library} ({loaded.path}) provides only up to {upto or 'older versions'}: "
        f"build with the target system's compiler version, ship a newer {library} with "
        "the program, or link it statically (e.g. -static-libstdc++)",
        library=library, path=str(loaded.path), versions=[n.version for n in absent],
        provided=upto,
    )

# -- glibc floor ----------------------------------------------------------

def by_library(needs: Iterable[VersionNeed]) -> dict[str, list[VersionNeed]]:
    grouped: dict[str, list[VersionNeed]] = {}
    for need in needs:
        grouped.setdefault(need.library, []).append(need)
    return grouped


def symbol_list(needs: Sequence[VersionNeed]) -> str:
    """` (symbols: a@V, b@V and 3 more)`, newest versions first; '' when none are known."""
    ordered = sorted(needs, key=lambda n: version_key(n.version), reverse=True)
    names = [f"{symbol}@{n.version}" for n in ordered for symbol in n.symbols]
    if not names:
        return ""
    shown = ", ".join(names[:_SHOWN_SYMBOLS])
    more = f" and {len(names) - _SHOWN_SYMBOLS} more" if len(names) > _SHOWN_SYMBOLS else ""
    return f" (symbols: {shown}{more})"


