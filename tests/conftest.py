"""Fixtures shared by the unit and integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support.build import CrossBuilder


@pytest.fixture(scope="session")
def cross_build(tmp_path_factory: pytest.TempPathFactory) -> CrossBuilder:
    """Session-wide cross compiler: `cross_build.build("aarch64", C_SOURCE, "-static")`.

    Artifacts live under the shared base temp dir, so xdist workers share them.
    """
    root: Path = tmp_path_factory.getbasetemp().parent / "xarch-test-builds"
    return CrossBuilder(root)
