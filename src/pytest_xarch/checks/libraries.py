"""The loader and the libraries: libc-mismatch, missing-loader, missing-library, mixed-libc."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Optional

from ..elf import VersionNeed, version_key
from ..loader import LoaderModel, Resolution, glibc_build
from ..sysroot import sysroot_search_list
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
    """missing-loader; True when the root is there and holds the program's loader."""
    interp, target = ctx.facts.interp, ctx.target
    if ctx.root is None:
        looked = ", ".join(sysroot_search_list(target))
        packages = [p for p in target.packages if p.startswith("libc6-dev")]
        install = f"install {' '.join(packages)} or " if packages else ""
        ctx.add(
            "missing-loader",
            f"dynamically linked{f' (loader {interp})' if interp else ''} but no sysroot for "
            f"target '{target.name}' was found (looked in {looked}, and for a Debian multiarch "
            f"{target.loader}), so its loader and libraries cannot be verified: {install}"
            "pass --sysroot (or set `sysroot`)",
            severity=WARNING, interp=interp,
        )
        return False
    if not interp or ctx.root.loader_file(interp) is not None:
        return True
    if interp != target.loader:
        why = (f"target '{target.name}' uses {target.loader}; the program was linked with "
               f"another loader: relink with {target.triple}-gcc or link statically")
    else:
        why = (f"point --sysroot at a root filesystem of target '{target.name}', or link "
               "statically")
    fallback = model(ctx).loader(interp)
    also = f" (QEMU would take the host's {fallback} instead)" if fallback else ""
    ctx.add(
        "missing-loader",
        f"dynamically linked, but the sysroot {ctx.root.tree} does not contain {interp}, "
        f"its loader{also}: {why}",
        interp=interp, sysroot=str(ctx.root.tree), expected=target.loader,
    )
    return False


def model(ctx: CheckContext) -> LoaderModel:
    """The target's loader as it will run this file: through the root, with the library path."""
    assert ctx.root is not None
    return LoaderModel(ctx.target, ctx.root.fs, tuple(ctx.extra_dirs))


def libraries(ctx: CheckContext) -> Resolution:
    """missing-library: DT_NEEDED (transitively) and non-glibc version needs; mixed-libc."""
    assert ctx.root is not None
    resolution = model(ctx).resolve(ctx.path, ctx.facts)
    for missing in resolution.missing:
        via = "" if missing.needed_by == os.path.basename(ctx.path) else (
            f" (needed by {missing.needed_by})")
        ctx.add(
            "missing-library",
            f"needs {missing.name}{via}, found nowhere the loader looks (RPATH/RUNPATH, "
            f"LD_LIBRARY_PATH, then {ctx.root.describe()}): install the target's package "
            "that provides it, ship it next to the program (-Wl,-rpath,'$ORIGIN'), or link "
            "it statically",
            library=missing.name, needed_by=missing.needed_by, searched=missing.searched,
        )
    for owner, needs in own_objects(ctx, resolution):
        for library, group in by_library(needs).items():
            _versions_missing(ctx, owner, library, group, resolution)
    _mixed_libc(ctx, resolution)
    loader_file = ctx.root.loader_file(ctx.facts.interp) if ctx.facts.interp else None
    ctx.inputs += [*([loader_file] if loader_file else []), *(o.path for o in resolution.loaded)]
    return resolution


def _mixed_libc(ctx: CheckContext, resolution: Resolution) -> None:
    """mixed-libc: the loader and libc.so.6 of different glibc builds (threads hang)."""
    interp = ctx.facts.interp
    libc = resolution.find("libc.so.6")
    loader_file = ctx.root.loader_file(interp) if ctx.root and interp else None
    if libc is None or loader_file is None:
        return
    loader_build, libc_build = glibc_build(loader_file), glibc_build(libc.path)
    if loader_build is None or libc_build is None or loader_build == libc_build:
        return
    where = "" if str(loader_file) == interp else f" ({loader_file})"
    ctx.add(
        "mixed-libc",
        f"the loader {interp}{where} is {loader_build} but libc.so.6 {libc.path} is "
        f"{libc_build}: a loader and a libc of different glibc builds hang threaded "
        "programs at their first pthread_create; take both from one tree: drop the "
        "directory holding that libc.so.6 from RPATH/RUNPATH/LD_LIBRARY_PATH, or set "
        "`sysroot` to the tree it belongs to",
        loader=str(loader_file), loader_build=loader_build, libc=str(libc.path),
        libc_build=libc_build,
    )


def own_objects(
    ctx: CheckContext, resolution: Optional[Resolution]
) -> list[tuple[str, tuple[VersionNeed, ...]]]:
    """The program and the libraries it brings along (not the system's, or beside it)."""
    owned = [(os.path.basename(ctx.path), ctx.facts.version_needs)]
    for item in resolution.loaded if resolution is not None else []:
        if not item.system or item.path.parent == Path(ctx.path).parent:
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
        f"{owner} needs {newest.version} from {library}{symbols}, but the {library} the "
        f"loader finds ({loaded.path}) provides only up to {upto or 'older versions'}: "
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


