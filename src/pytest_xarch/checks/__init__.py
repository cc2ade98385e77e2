"""Static verification: ELF facts x target x sysroot -> findings with stable codes.

Nothing is executed. Each finding says what is wrong, what the target expects
and the likely fix, and carries the facts behind it. One small module per
family of findings (`identity`, `abi`, `libraries`, `glibc`) over a shared
`CheckContext`; the codes and severities are enums in `model`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional, Union

from ..elf import ElfError, read_facts
from ..errors import SetupError
from ..roots import LibraryRoot, choose_root
from ..targets import Target
from . import abi, glibc, identity, libraries
from .archive import check_archive, is_archive
from .context import CheckContext
from .model import (
    CODES,
    ERROR,
    INFO,
    WARNING,
    Code,
    Finding,
    Severity,
    assert_no_errors,
    errors,
    format_finding,
)

__all__ = [
    "CODES", "ERROR", "INFO", "WARNING", "Code", "Finding", "Severity", "assert_no_errors",
    "check_before_run", "check_file", "errors", "format_finding",
]


def check_file(
    path: Union[str, os.PathLike[str]],
    target: Target,
    *,
    sysroot: Union[str, os.PathLike[str], None] = None,
    root: Optional[LibraryRoot] = None,
    glibc: Optional[str] = None,
    page_size: Optional[int] = None,
    extra_library_dirs: Sequence[str] = (),
) -> list[Finding]:
    """Every reason `path` would fail on `target` that can be seen without running it.

    Libraries are predicted through `root` (a runner's), else the root
    `roots.choose_root` picks for `sysroot` (default: the target's configured or
    found one, or Debian multiarch); `glibc` (the floor, "X.Y") defaults to the
    target's setting, else the libc.so.6 the loader will load; `page_size` to
    the target's. `extra_library_dirs` are searched like LD_LIBRARY_PATH. Raises
    SetupError only when `path` cannot be opened or the given sysroot is not a
    directory; problems of the file itself are findings.
    """
    name = os.fspath(path)
    if root is None:
        root = choose_root(target, os.fspath(sysroot) if sysroot is not None else None)
    if is_archive(name):
        return check_archive(name, lambda member: check_file(
            member, target, root=root, glibc=glibc, page_size=page_size))
    return _checked(name, target, root, glibc, page_size, extra_library_dirs)[0]


def _checked(path: str, target: Target, root: Optional[LibraryRoot], glibc: Optional[str],
             page_size: Optional[int], extra_library_dirs: Sequence[str]
             ) -> tuple[list[Finding], list[Path]]:
    """Every family's findings on `path`, and the files they rest on."""
    try:
        facts = read_facts(path)
    except ElfError as error:
        return [Finding(Code(error.code), ERROR, _content_message(error), path)], []
    context = CheckContext(path, facts, target, root, glibc, page_size or target.page_size,
                           extra_library_dirs)
    _run(context)
    return context.findings, context.inputs


def check_before_run(
    program: str,
    target: Target,
    *,
    root: Optional[LibraryRoot] = None,
    env: Optional[Mapping[str, str]] = None,
) -> list[Path]:
    """Raise SetupError naming every error finding of `program` for `target`, else return
    the files the clean verdict rests on (the loader and the libraries it would load).

    `root` defaults to the target's (`roots.choose_root`); LD_LIBRARY_PATH in `env`
    (the guest's) is searched as the loader will.
    """
    library_path = (env or {}).get("LD_LIBRARY_PATH", "")
    findings, inputs = _checked(program, target, root or choose_root(target), None, None,
                                [p for p in library_path.split(":") if p])
    bad = errors(findings)
    if bad:
        lines = "\n".join(format_finding(f) for f in bad)
        raise SetupError(
            f"{program} cannot run on target '{target.name}' (static check; "
            "to run it anyway: `xarch run --no-check`, XARCH_CHECK_BEFORE_RUN=false, or "
            f"check_before_run = false):\n{lines}"
        )
    return inputs


def _content_message(error: ElfError) -> str:
    if error.code == "not-elf":
        return (f"{error.detail}: xarch checks ELF programs and libraries; "
                "was a script or a build log given instead of the binary?")
    return f"{error.detail}; rebuild it or copy it again (was the copy interrupted?)"


def _run(ctx: CheckContext) -> None:
    """Every family in turn; after an identity mismatch nothing else is meaningful."""
    if not identity.identity(ctx):
        return
    abi.float_abi(ctx)
    abi.isa_level(ctx)
    abi.page_align(ctx)
    resolution = None
    dynamic = ctx.facts.linkage == "dynamic" or bool(ctx.facts.needed)
    if dynamic and libraries.libc(ctx) and libraries.loader(ctx):
        resolution = libraries.libraries(ctx)
    glibc.glibc_floor(ctx, resolution)
