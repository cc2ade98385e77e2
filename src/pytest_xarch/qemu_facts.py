"""What a QEMU binary says about itself: version, CPU models, whether it starts with given options.

Bottom layer: runners, binfmt_misc and the commands ask here. Every `xarch run` is
a new process (ctest, `go test -exec` and cargo start one per test binary), so
asking QEMU once per process would still cost extra emulator start-ups per run.
The answers only change when the binary does: they are kept in
`$XDG_CACHE_HOME/pytest-xarch/qemu/` (default `~/.cache`), one file per (binary
path, size, mtime, question), written atomically. `XARCH_NO_CACHE=1` or an
unwritable cache directory just means asking QEMU every time.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

from .diskcache import entry_path, store_text
from .process import run_tool


def _entry(qemu_path: str, args: Sequence[str]) -> Optional[Path]:
    try:
        real = os.path.realpath(qemu_path)
        info = os.stat(real)
    except OSError:
        return None
    return entry_path("qemu", real, str(info.st_size), str(info.st_mtime_ns), *args)


def startup_problem(qemu_path: str, args: Sequence[str], *, timeout: float = 10) -> str:
    """Why QEMU refuses to start with `args` (a bad -cpu feature, an unknown option), or "".

    QEMU is pointed at /dev/null: it parses the options and creates the CPU, then
    fails to load the "program" without a word (its message goes to a buffered
    stdout it never flushes). Anything it does say is the refusal. Cached like
    the other answers.
    """
    entry = _entry(qemu_path, ["startup", *args])
    if entry is not None:
        with contextlib.suppress(OSError):
            return entry.read_text("utf-8")
    completed = run_tool([qemu_path, *args, os.devnull], timeout=timeout)
    if completed.returncode < 0:  # killed: no answer worth keeping
        return ""
    said = (completed.stderr.strip() or completed.stdout.strip()).splitlines()
    answer = said[0] if said else ""
    if entry is not None:
        store_text(entry, answer)
    return answer


def qemu_says(qemu_path: str, args: Sequence[str], *, timeout: float = 10) -> str:
    """Standard output of `qemu_path ARGS`, from the cache when the binary is unchanged."""
    entry = _entry(qemu_path, args)
    if entry is not None:
        with contextlib.suppress(OSError):
            return entry.read_text("utf-8")
    completed = run_tool([qemu_path, *args], timeout=timeout)
    # `qemu-<arch> -cpu help` exits 1 after printing the list: keep any whole answer.
    if entry is not None and completed.returncode >= 0 and completed.stdout:
        store_text(entry, completed.stdout)
    return completed.stdout


@functools.cache
def qemu_version(qemu_path: str) -> str:
    """`7.2.22` for the QEMU at `qemu_path` (asked once per binary, cached on disk)."""
    match = re.search(r"version (\S+)", qemu_says(qemu_path, ["--version"]))
    return match.group(1) if match else "unknown"


def qemu_major_minor(qemu_path: str) -> tuple[int, int]:
    """(7, 2) for QEMU 7.2.x; (0, 0) when the version cannot be read."""
    match = re.match(r"(\d+)\.(\d+)", qemu_version(qemu_path))
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


@functools.cache
def qemu_cpu_models(qemu_path: str) -> frozenset[str]:
    """CPU model names `qemu_path -cpu help` lists."""
    listing = qemu_says(qemu_path, ["-cpu", "help"])
    models: set[str] = set()
    for line in listing.splitlines():
        words = line.split()
        if not words or words[0].endswith(":"):
            continue
        # "x86 qemu64 ...", "PowerPC power8 ...", "s390 z196 ...", or a bare "cortex-a53".
        family_prefixed = len(words) > 1 and words[0] in {"x86", "PowerPC", "s390"}
        models.add(words[1] if family_prefixed else words[0])
    return frozenset(models)


def install_hint(qemu_binary: str) -> str:
    """How to get `qemu_binary` (qemu-aarch64) on Debian or Ubuntu."""
    return (f"install the Debian/Ubuntu package qemu-user (apt-get install qemu-user), "
            f"which provides /usr/bin/{qemu_binary}")
