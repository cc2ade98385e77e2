"""MkDocs hooks (mkdocs.yml `hooks:`): the configuration reference, written from the one
settings schema at build time, so that the page cannot fall behind the code."""

from __future__ import annotations

from typing import Any

from pytest_xarch.plugin.options import CLI_KEYS
from pytest_xarch.settings import KEYS, TARGET_KEYS

MARK = "<!-- settings reference -->"
TARGET_MARK = "<!-- target settings reference -->"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """Replace the reference marks of a page by the tables they stand for."""
    if MARK in markdown:
        markdown = markdown.replace(MARK, settings_table())
    if TARGET_MARK in markdown:
        markdown = markdown.replace(TARGET_MARK, target_table())
    return markdown


def settings_table() -> str:
    rows = ["| key | default | environment | ini option | command line | what it does |",
            "|---|---|---|---|---|---|"]
    for key in KEYS:
        name = f"`{key.section}.{key.name}`" if key.section else f"`{key.name}`"
        cli = CLI_KEYS.get(key.name, (None, None))[1]
        rows.append(" | ".join([
            f"| {name}", _default(key.name, key.default), _code(key.env), _code(key.ini),
            _code(cli), _cell(key.help) + " |",
        ]))
    return "\n".join(rows)


def target_table() -> str:
    rows = ["| key | expected |", "|---|---|"]
    rows += [f"| `{name}` | {_cell(expected)} |" for name, (_, expected) in TARGET_KEYS.items()]
    return "\n".join(rows)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(text: str | None) -> str:
    return f"`{text}`" if text else "-"


def _default(name: str, value: Any) -> str:
    if name == "targets":
        return "this host's target"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    if isinstance(value, (tuple, list)):
        return "`[" + ", ".join(f'"{item}"' for item in value) + "]`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"
