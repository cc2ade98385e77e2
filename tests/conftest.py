"""Fixtures shared by the unit and integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_xarch import containment
from pytest_xarch.errors import SetupError

from .support.build import CrossBuilder
from .support.tools import missing


@pytest.fixture(scope="session")
def cross_build(tmp_path_factory: pytest.TempPathFactory) -> CrossBuilder:
    """Session-wide cross compiler: `cross_build.build("aarch64", C_SOURCE, "-static")`.

    Artifacts live under the shared base temp dir, so xdist workers share them.
    """
    root: Path = tmp_path_factory.getbasetemp().parent / "xarch-test-builds"
    return CrossBuilder(root)


@pytest.fixture(params=["cgroup", "process"])
def containment_mode(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each containment mechanism in turn, as this process's containment for the test."""
    mode: str = request.param
    try:
        containment.probe(mode)
    except SetupError as problem:
        missing(f"containment {mode} is not available here: {problem}")
    with containment.scoped(mode) as scope:
        assert scope.mode == mode
        yield mode
