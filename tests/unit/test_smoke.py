"""The package imports and exposes its public API."""

import pytest_xarch


def test_public_api_resolves_a_target() -> None:
    assert str(pytest_xarch.resolve_target("arm64")) == "aarch64"
