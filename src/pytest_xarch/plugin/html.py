"""pytest-html, when installed: target and fidelity columns in its results table."""

from __future__ import annotations

import html
from typing import Any

import pytest

from ..state import PROP_FIDELITY, PROP_TARGET


class HtmlColumns:
    """Registered only when pytest-html is (its hooks exist only then)."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(2, '<th class="sortable" data-column-type="xarch-target">Target</th>')
        cells.insert(3, '<th class="sortable" data-column-type="xarch-fidelity">Fidelity</th>')

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        props = dict(getattr(report, "user_properties", ()))
        target, fidelity = props.get(PROP_TARGET, ""), props.get(PROP_FIDELITY, "")
        cells.insert(2, f'<td class="col-xarch-target">{html.escape(str(target))}</td>')
        cells.insert(3, f'<td class="col-xarch-fidelity">{html.escape(str(fidelity))}</td>')


def register(config: pytest.Config) -> None:
    """Add the columns when pytest-html is active in this session."""
    if config.pluginmanager.hasplugin("html"):
        config.pluginmanager.register(HtmlColumns(), "xarch-html")
