"""Findings: their stable codes and severities (enums whose values are the documented
strings), and how they are printed."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


class Code(str, enum.Enum):
    """The stable finding codes (DESIGN.md section 4), in the order checks run."""

    NOT_ELF = "not-elf"
    CORRUPT_ELF = "corrupt-elf"
    WRONG_MACHINE = "wrong-machine"
    WRONG_CLASS = "wrong-class"
    WRONG_ENDIAN = "wrong-endian"
    FLOAT_ABI = "float-abi"
    LIBC_MISMATCH = "libc-mismatch"
    MISSING_LOADER = "missing-loader"
    MISSING_LIBRARY = "missing-library"
    MIXED_LIBC = "mixed-libc"
    GLIBC_TOO_NEW = "glibc-too-new"
    PAGE_ALIGN = "page-align"
    ISA_LEVEL = "isa-level"
    STATIC_ARCHIVE = "static-archive"

    def __str__(self) -> str:
        return self.value


class Severity(str, enum.Enum):
    """How bad a finding is: errors make a run fail."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    def __str__(self) -> str:
        return self.value


ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
CODES = tuple(code.value for code in Code)


@dataclass
class Finding:
    """One result of static verification."""

    code: Code
    severity: Severity
    message: str
    path: str
    facts: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.code = Code(self.code)
        self.severity = Severity(self.severity)

    def __str__(self) -> str:
        return format_finding(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"path": self.path, "code": self.code.value, "severity": self.severity.value,
                "message": self.message, "facts": self.facts}


def format_finding(finding: Finding) -> str:
    """One line: ``PATH: CODE: message``."""
    return f"{finding.path}: {finding.code.value}: {finding.message}"


def errors(findings: Iterable[Finding]) -> list[Finding]:
    """The error-severity findings (those that make a run fail)."""
    return [f for f in findings if f.severity == Severity.ERROR]


def assert_no_errors(findings: Sequence[Finding]) -> None:
    """Raise AssertionError listing every error finding, one line each."""
    bad = errors(findings)
    if bad:
        raise AssertionError("static check failed:\n" + "\n".join(map(format_finding, bad)))
