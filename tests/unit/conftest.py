"""Unit tests run anywhere: those that depend on the host's architecture say which they assume."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_xarch.targets import Target, resolve_target, simulated_host


@pytest.fixture
def x86_64_host() -> Iterator[Target]:
    """This host, as far as pytest-xarch asks, is an x86-64 machine."""
    with simulated_host(resolve_target("x86_64")) as host:
        yield host


@pytest.fixture
def aarch64_host() -> Iterator[Target]:
    """This host, as far as pytest-xarch asks, is an AArch64 machine."""
    with simulated_host(resolve_target("aarch64")) as host:
        yield host
