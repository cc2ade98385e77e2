"""The documentation as a reader meets it: the site builds with `mkdocs build --strict`,
every command a page shows runs as shown (page by page, in a fresh directory, with the
files the page gives), and the configuration reference is the settings schema's."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_xarch.settings import KEYS, TARGET_KEYS

from ..support.docs import Command, File, Page, read_page, shell_environment, unmatched
from ..support.tools import in_ci, missing

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = {path.name: read_page(path) for path in sorted(DOCS.glob("*.md"))}
RUN = [name for name, page in PAGES.items() if page.commands]
# What a copy of the source tree holds (`<!-- docs: in a checkout -->` pages).
SKIPPED_IN_COPY = shutil.ignore_patterns(".git", ".venv", ".nox", "build", "__pycache__",
                                         "*.egg-info", ".pytest_cache", ".mypy_cache",
                                         ".ruff_cache")


def test_every_block_says_what_it_is() -> None:
    """No command hides in a ```sh or bare block, where the page test would not run it."""
    refused = [f"docs/{name} {why}" for name, page in PAGES.items() for why in page.refused]
    assert not refused, "\n".join(refused)


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    reference = (tmp_path / "configuration" / "index.html").read_text()
    for key in KEYS:
        name = f"{key.section}.{key.name}" if key.section else key.name
        assert f"<code>{name}</code>" in reference, name
        for spelling in (key.env, key.ini):
            if spelling:
                assert f"<code>{spelling}</code>" in reference, spelling
    for name in TARGET_KEYS:
        assert f"<code>{name}</code>" in reference, name


@pytest.mark.parametrize("name", RUN)
def test_every_command_of_the_page_runs(name: str, tmp_path: Path,
                                        request: pytest.FixtureRequest) -> None:
    page = PAGES[name]
    for needed in page.needs:
        if not os.path.exists(needed):
            missing(f"docs/{name} shows commands that need {needed}")
    work = tmp_path / "work"
    if page.in_checkout:
        shutil.copytree(ROOT, work, ignore=SKIPPED_IN_COPY, symlinks=True)
    else:
        work.mkdir()
    env = _reader_environment(tmp_path)
    if any("pip install" in command.text for command in page.commands):
        dist = request.getfixturevalue("dist")
        env["PIP_FIND_LINKS"] = str(dist)  # pytest-xarch from this checkout, the rest from PyPI
    script, statuses = _script(page, tmp_path)
    try:
        completed = subprocess.run(["bash", "--noprofile", "--norc", str(script)], cwd=work,
                                   env=env, capture_output=True, text=True, timeout=1500,
                                   stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"docs/{name}: the commands ran over 1500 s\n{expired.stdout!r}")
    got = dict(line.split(" ", 1) for line in statuses.read_text().splitlines())
    log = f"--- stdout ---\n{completed.stdout[-4000:]}\n--- stderr ---\n{completed.stderr[-4000:]}"
    for index, command in enumerate(page.commands):
        status = got.get(str(index))
        assert status is not None, f"docs/{name}:{command.line}: never ran: {command.text}\n{log}"
        output = (tmp_path / f"output.{index}").read_text(errors="replace")
        where = f"docs/{name}:{command.line}: `{command.text}`"
        assert int(status) == command.status, (
            f"{where} exited {status}, the page shows {command.status}\n{output[-6000:]}")
        if page.output_checked:
            wrong = unmatched(command.output, output)
            assert not wrong, f"{where}: the page shows {wrong}, not in:\n{output[-6000:]}"


def _reader_environment(tmp_path: Path) -> dict[str, str]:
    """A reader's shell: this checkout's `xarch` and `pytest` first on PATH, a home (and so
    every cache) of its own."""
    home = tmp_path / "home"
    home.mkdir()
    env = shell_environment(home, Path(sys.executable).parent)
    env["PIP_NO_CACHE_DIR"] = "1"
    env.pop("XDG_CACHE_HOME", None)
    env["XARCH_BENCH_QUICK"] = "1"  # docs/performance.md's benchmarks: a smoke run of each
    return env


def _script(page: Page, tmp_path: Path) -> tuple[Path, Path]:
    """A bash script of the page's files and commands, each command's status written to a
    file (index, status); and that file."""
    statuses = tmp_path / "statuses"
    lines = [f"exec 9>{_quote(statuses)}"]
    index = 0
    for step in page.steps:
        if isinstance(step, File):
            lines += [f"mkdir -p \"$(dirname {_quote(step.path)})\"",
                      f"cat > {_quote(step.path)} <<'XARCH_DOCS_FILE'", step.text.rstrip("\n"),
                      "XARCH_DOCS_FILE"]
            continue
        output = _quote(tmp_path / f"output.{index}")
        lines += [f"{{ {_as_run(step)}\n}} >{output} 2>&1", f"echo {index} $? >&9"]
        index += 1
    script = tmp_path / "page.sh"
    script.write_text("\n".join(lines) + "\n")
    return script, statuses


def _as_run(command: Command) -> str:
    """The command as this test runs it: `sudo` needs root here, and is then left out."""
    text = command.text
    if re.match(r"sudo\s", text):
        if os.geteuid() != 0:
            if in_ci():
                pytest.fail(f"CI=true and `{text}` needs root", pytrace=False)
            missing(f"`{text}` needs root")
        text = re.sub(r"^sudo\s+", "", text)
    return text


def _quote(text: object) -> str:
    return shlex.quote(str(text))
