"""Exit statuses and error output shared by the `xarch` commands."""

from __future__ import annotations

import sys
from typing import Optional

EXIT_USAGE = 2
EXIT_TIMEOUT = 124
EXIT_CANNOT_RUN = 127


def error(message: str) -> None:
    """Print one `xarch: error: ...` line on stderr."""
    print(f"xarch: error: {message}", file=sys.stderr)


def timeout_is_valid(timeout: Optional[float]) -> bool:
    """True for no --timeout or a usable one; otherwise print the error and return False."""
    from ..settings import TIMEOUT_EXPECTED, is_timeout

    if timeout is None or is_timeout(timeout):
        return True
    error(f"--timeout {timeout:g}: expected {TIMEOUT_EXPECTED}")
    return False
