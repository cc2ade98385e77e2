"""Counting emulator launches: a logging wrapper of a QEMU binary, and its log read back."""

from __future__ import annotations

from pathlib import Path

WRAPPER = """#!/bin/sh
# Counts emulator launches (not version or CPU-list probes), then runs the real QEMU.
case "$1 $2" in --version*|"-cpu help") ;; *) echo "$@" >> {log} ;; esac
exec {real} "$@"
"""


class Launches:
    """Emulator launches made through the wrapped qemu-aarch64/qemu-arm of one test."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def of(self, binary: str) -> int:
        """How many launches ran a program whose path ends with `binary`."""
        if not self.log.exists():
            return 0
        return sum(
            1 for line in self.log.read_text().splitlines()
            if any(word.endswith(binary) for word in line.split())
        )

    def lines(self) -> list[str]:
        """The launches' command lines, oldest first."""
        return self.log.read_text().splitlines() if self.log.exists() else []

    def clear(self) -> None:
        self.log.unlink(missing_ok=True)
