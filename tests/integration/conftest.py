"""Every test under tests/integration is an integration test: `-m "not integration"` skips
them all (they need QEMU, cross compilers, sshd, root for binfmt_misc)."""

from __future__ import annotations

from pathlib import Path

import pytest

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.integration)
