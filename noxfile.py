"""The plugin against the oldest pytest it supports (`make test` runs the whole suite on
the newest one the registry offers): `nox -s compat`, real virtualenvs, the plugin's
representative tests (units, the plugin end to end, the collectors on real suites)."""

from __future__ import annotations

import nox

OLDEST_PYTEST = "7.0.1"  # pyproject.toml's floor, pytest>=7.0
SUBSET = (
    "tests/unit",
    "tests/integration/test_plugin.py",
    "tests/integration/test_collect.py",
    "tests/integration/test_collect_verdicts.py",
)

nox.options.sessions = ["compat"]


@nox.session(venv_backend="venv", reuse_venv=True)
@nox.parametrize("pytest", [OLDEST_PYTEST])
def compat(session: nox.Session, pytest: str) -> None:
    """The subset under pytest `pytest`, with the plugins the tests use."""
    session.install(f"pytest=={pytest}", "pytest-xdist>=3.0", "hypothesis>=6.0", "pytest-html>=4.0",
                    "-e", ".")
    session.run("python", "-m", "pytest", "--version")
    session.run("python", "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", *SUBSET,
                *session.posargs)
