"""What the plugin keeps in pytest's stashes, and the session state of a config."""

from __future__ import annotations

import pytest

from ..runners import RunResult
from ..state import SessionState

STATE = pytest.StashKey[SessionState]()
RUNS = pytest.StashKey[list[RunResult]]()  # an item's runs through xarch_run
UNPROVEN = pytest.StashKey[str]()  # why a hardware_only item was not run
ARGNAME = "xarch_target"  # the fixture every xarch test is parametrized through


def state_of(config: pytest.Config) -> SessionState:
    """The session state of `config` (set up in pytest_configure)."""
    return config.stash[STATE]


def is_worker(config: pytest.Config) -> bool:
    """Whether this is an xdist worker."""
    return hasattr(config, "workerinput")
