"""The documentation's code blocks, read the way tests/integration/test_docs.py runs them.

Conventions (docs/architecture.md, "Documentation"):

- A command is shown only in a ```console block, each command on a `$ ` line
  (a trailing backslash continues it); the lines after it are its output, for
  the reader. A command that is meant to fail ends with `# exit N`.
- A block right after the comment `<!-- file: PATH -->` is a file the page's
  commands use: it is written to PATH (relative to the page's directory) before
  the commands that follow it run.
- The comment `<!-- docs: in a checkout -->` anywhere on a page runs its commands
  in a copy of the source tree (for `examples/...` paths), not an empty directory.
- The comment `<!-- docs: needs PATH -->` says the page's commands need PATH to
  exist on this machine (a CI set-up, such as Debian multiarch): the page test is
  skipped without it (a failure under CI).
- The comment `<!-- docs: output checked -->` makes the output a page shows a
  promise: each shown line must match a line of the command's output, in order,
  with `...` matching anything (a line of only `...` stands for any lines).
- Every fenced block names its language: `console` for commands, `text` for
  output or synopses, or the language of its code. ```sh and bare fences are
  refused, so that no command escapes the test.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
FILE_MARK = re.compile(r"<!--\s*file:\s*(?P<path>\S+)\s*-->")
CHECKOUT_MARK = "<!-- docs: in a checkout -->"
OUTPUT_MARK = "<!-- docs: output checked -->"
NEEDS_MARK = re.compile(r"<!--\s*docs:\s*needs\s+(?P<path>\S+)\s*-->")
EXIT_MARK = re.compile(r"\s+#\s*exit\s+(?P<status>\d+)\s*$")
REFUSED = {"", "sh", "bash", "shell", "zsh", "shell-session"}


@dataclass(frozen=True)
class Command:
    line: int  # where it starts in the page (1-based)
    text: str  # as a shell reads it (continuations joined)
    status: int = 0  # the exit status it is shown to have
    output: tuple[str, ...] = ()  # the lines shown after it


@dataclass(frozen=True)
class File:
    line: int
    path: str
    text: str


@dataclass
class Page:
    path: Path
    in_checkout: bool = False
    output_checked: bool = False
    needs: list[str] = field(default_factory=list)  # paths the commands need
    steps: list[Union[Command, File]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "line N: why"

    @property
    def commands(self) -> list[Command]:
        return [step for step in self.steps if isinstance(step, Command)]


def read_page(path: Path) -> Page:
    """The commands and files of one page, in order, and the blocks the conventions refuse."""
    lines = path.read_text().splitlines()
    marks = [line.strip() for line in lines]  # a mark is a line of its own, not a quote
    page = Page(path, in_checkout=CHECKOUT_MARK in marks, output_checked=OUTPUT_MARK in marks,
                needs=[found.group("path") for found in map(NEEDS_MARK.fullmatch, marks)
                       if found])
    number = 0
    pending_file: Optional[str] = None
    while number < len(lines):
        line = lines[number]
        mark = FILE_MARK.search(line)
        if mark:
            pending_file = mark.group("path")
        opened = FENCE.match(line)
        if not opened:
            if line.strip() and not mark:
                pending_file = None
            number += 1
            continue
        start = number + 1
        indent, fence = opened.group("indent"), opened.group("fence")
        info = opened.group("info").strip().split(" ")[0]
        body: list[str] = []
        number += 1
        while number < len(lines) and not lines[number].strip().startswith(fence):
            body.append(lines[number][len(indent):] if lines[number].startswith(indent)
                        else lines[number].lstrip())
            number += 1
        number += 1  # the closing fence
        if pending_file is not None:
            page.steps.append(File(start, pending_file, "\n".join(body) + "\n"))
            pending_file = None
        elif info in REFUSED:
            page.refused.append(f"line {start}: a ```{info} block: show commands in a "
                                "```console block ($ lines), anything else as ```text")
        elif info == "console":
            page.steps.extend(_commands(body, start))
    return page


def _commands(body: list[str], start: int) -> list[Command]:
    found: list[Command] = []
    index = 0
    while index < len(body):
        line = body[index]
        if not line.startswith("$ "):
            index += 1
            continue
        first = index
        parts = [line[2:]]
        while parts[-1].endswith("\\") and index + 1 < len(body):
            index += 1
            parts.append(body[index])
        text = "\n".join(parts)
        status = 0
        expected = EXIT_MARK.search(text)
        if expected:
            status = int(expected.group("status"))
        index += 1
        shown = []
        while index < len(body) and not body[index].startswith("$ "):
            shown.append(body[index].rstrip())
            index += 1
        found.append(Command(start + 1 + first, text, status, tuple(shown)))
    return found


def unmatched(shown: tuple[str, ...], output: str) -> list[str]:
    """The shown lines that do not match the output's lines, in order (`...` is a wildcard)."""
    lines = output.splitlines()
    position = 0
    missing = []
    for wanted in shown:
        if not wanted.strip() or wanted.strip() == "...":
            continue
        pattern = re.compile(".*".join(re.escape(part.strip()) for part in wanted.split("...")))
        hit = next((at for at in range(position, len(lines)) if pattern.search(lines[at])), None)
        if hit is None:
            missing.append(wanted)
        else:
            position = hit + 1
    return missing


def shell_environment(home: Path, bin_dir: Path) -> dict[str, str]:
    """A user's shell for running documented commands: `bin_dir` first on PATH, a home of
    its own, and none of this test run's own pytest, Python or xarch variables."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("XARCH_", "PYTEST_", "VIRTUAL_ENV", "PYTHON"))}
    env.update(HOME=str(home), PATH=f"{bin_dir}:{env.get('PATH', '')}",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env
