"""What every check family looks at: the file's facts, the target, the library root, the floor."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..elf import ElfFacts
from ..roots import LibraryRoot
from ..targets import Target
from .model import ERROR, Code, Finding, Severity


@dataclass
class CheckContext:
    """One file checked against one target; the families add their findings here."""

    path: str
    facts: ElfFacts
    target: Target
    root: Optional[LibraryRoot]  # None: no root with the target's loader was found
    glibc: Optional[str] = None
    page_size: int = 4096
    extra_dirs: Sequence[str] = ()
    findings: list[Finding] = field(default_factory=list)
    inputs: list[Path] = field(default_factory=list)  # the files the verdict rests on

    def add(self, code: str, message: str, severity: Severity = ERROR, **facts: Any) -> None:
        """Record one finding."""
        self.findings.append(Finding(Code(code), severity, message, self.path, facts))
