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
from ..sysroot import find_sysroot
from ..targets import Target
from . import abi, glibc, identity, libraries
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
    glibc: Optional[str] = None,
    page_size: Optional[int] = None,
    extra_library_dirs: Sequence[str] = (),
) -> list[Finding]:
    """Every reason `path` would fail on `target` that can be seen without running it.

    `sysroot` defaults to the target's (configured or found); `glibc` (the
    floor, "X.Y") defaults to the target's setting, else the sysroot's own
    glibc; `page_size` to the target's. `extra_library_dirs` are searched like
    LD_LIBRARY_PATH. Raises SetupError only when `path` cannot be opened or the
    given sysroot is not a directory; problems of the file itself are findings.
    """
    name = os.fspath(path)
    try:
        facts = read_facts(path)
    except ElfError as error:
        return [Finding(Code(error.code), ERROR, _content_message(error), name)]
    if sysroot is not None and not os.path.isdir(sysroot):
        raise SetupError(f"sysroot {os.fspath(sysroot)} is not a directory")
    root = Path(sysroot) if sysroot is not None else find_sysroot(target)
    context = CheckContext(name, facts, target, root, glibc, page_size or target.page_size,
                           extra_library_dirs)
    return _run(context)


def check_before_run(
    program: str,
    target: Target,
    *,
    sysroot: Union[str, os.PathLike[str], None] = None,
    env: Optional[Mapping[str, str]] = None,
) -> None:
    """Raise SetupError naming every error finding of `program` for `target`, else return."""
    library_path = (env or {}).get("LD_LIBRARY_PATH", "")
    findings = check_file(program, target, sysroot=sysroot,
                          extra_library_dirs=[p for p in library_path.split(":") if p])
    bad = errors(findings)
    if bad:
        lines = "\n".join(format_finding(f) for f in bad)
        raise SetupError(
            f"{program} cannot run on target '{target.name}' (static check; "
            f"set check_before_run = false to skip it):\n{lines}"
        )


def _content_message(error: ElfError) -> str:
    if error.code == "not-elf":
        return (f"{error.detail}: xarch checks ELF programs and libraries; "
                "was a script or a build log given instead of the binary?")
    return f"{error.detail}; rebuild it or copy it again (was the copy interrupted?)"


def _run(ctx: CheckContext) -> list[Finding]:
    """Every family in turn; after an identity mismatch nothing else is meaningful."""
    if not identity.identity(ctx):
        return ctx.findings
    abi.float_abi(ctx)
    abi.isa_level(ctx)
    abi.page_align(ctx)
    resolution = None
    dynamic = ctx.facts.linkage == "dynamic" or bool(ctx.facts.needed)
    if dynamic and libraries.libc(ctx) and libraries.loader(ctx):
        resolution = libraries.libraries(ctx)
    glibc.glibc_floor(ctx, resolution)
    return ctx.findings
