"""Exit statuses and error output shared by the `xarch` commands."""

from __future__ import annotations

import sys

EXIT_USAGE = 2
EXIT_TIMEOUT = 124
EXIT_CANNOT_RUN = 127


def error(message: str) -> None:
    """Print one `xarch: error: ...` line on stderr."""
    print(f"xarch: error: {message}", file=sys.stderr)
