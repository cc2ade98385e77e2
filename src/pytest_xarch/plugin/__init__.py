"""The pytest plugin (entry point `pytest11: xarch`), split by role.

`options` declares and reads the options (from the settings schema), `markers`
parametrizes and gates tests, `recorder` keeps what every test obtained,
`fixtures` are the user-facing fixtures, `hooks` wires them to pytest,
`scheduling` groups a binary's cases for xdist, `html` adds pytest-html columns
and `feedback` puts lines about long work on the terminal. Below it is a library
that never imports pytest.
"""

from __future__ import annotations

from .fixtures import xarch_build, xarch_check, xarch_run, xarch_runner, xarch_target
from .hooks import (
    pytest_addoption,
    pytest_collect_file,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_generate_tests,
    pytest_report_collectionfinish,
    pytest_report_header,
    pytest_report_teststatus,
    pytest_runtest_makereport,
    pytest_runtest_setup,
    pytest_unconfigure,
    pytest_xdist_make_scheduler,
)

__all__ = [
    "pytest_addoption", "pytest_collect_file", "pytest_collection_modifyitems",
    "pytest_configure", "pytest_generate_tests", "pytest_report_collectionfinish",
    "pytest_report_header",
    "pytest_report_teststatus", "pytest_runtest_makereport", "pytest_runtest_setup",
    "pytest_unconfigure", "pytest_xdist_make_scheduler", "xarch_build", "xarch_check",
    "xarch_run", "xarch_runner", "xarch_target",
]
