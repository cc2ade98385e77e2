"""Collectors for cross-built test executables (GoogleTest, Catch2, Go, Rust, CTest, plain)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import pytest

if TYPE_CHECKING:
    from ..session import XarchSession


def collect_file(
    file_path: Path, parent: pytest.Collector, state: XarchSession
) -> Optional[pytest.Collector]:
    """A collector for `file_path` when it is a test executable for a selected target."""
    return None
