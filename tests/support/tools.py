"""Requiring real tools: a skip on a developer machine, a failure in CI (CI=true)."""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    """True when running under CI, where missing tools must fail, not skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing(reason: str) -> None:
    """Skip (locally) or fail (CI) the current test because something is not installed."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def require_tool(tool: str, package: str) -> str:
    """The path of `tool`, or skip/fail naming the Debian package that provides it."""
    path = shutil.which(tool)
    if path is None:
        missing(f"{tool} is not installed (apt-get install {package})")
    assert path is not None
    return path
