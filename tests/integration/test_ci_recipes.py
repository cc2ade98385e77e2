"""The CI recipes of docs/ci.md (examples/ci/*.yml), their jobs' shell lines run for real:
the emulated stage under QEMU, the hardware stage against a real sshd on loopback standing
for the board, and the report merge of what both wrote.

Two things stand in for the CI service: the job's Python (setup-python's, or the image's)
is a fresh virtualenv of this test, and `pip install pytest-xarch` installs the wheel of
this checkout (PyPI for its dependencies). The packages the recipes `apt-get install` are
checked installed (provisioning installed them); the test does not run apt-get itself,
which would change this machine's package lists.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_xarch.targets import host_target

from ..support.docs import shell_environment
from .sshd import Sshd

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "examples" / "ci"
HELLO = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'
TEST = """
def test_hello(xarch_build, xarch_run):
    assert xarch_run(xarch_build("hello.c")).stdout == "hello\\n"
"""


def jobs(recipe: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each job's shell lines (in order) and its environment, GitHub or GitLab style."""
    data: dict[str, Any] = yaml.safe_load(recipe.read_text())
    found = {}
    if "jobs" in data:  # GitHub Actions
        for name, job in data["jobs"].items():
            lines = [line for step in job["steps"] if "run" in step
                     for line in step["run"].splitlines() if line.strip()]
            found[name] = (lines, dict(job.get("env", {})))
    else:  # GitLab CI
        for name, job in data.items():
            if isinstance(job, dict) and "script" in job:
                found[name] = ([*job.get("before_script", []), *job["script"]],
                               dict(job.get("variables", {})))
    return found


@pytest.mark.parametrize("recipe", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_recipe_runs_its_stages_and_merges_them(recipe: str, tmp_path: Path, sshd: Sshd,
                                                    dist: Path) -> None:
    stages = jobs(RECIPES / recipe)
    assert set(stages) == {"emulated", "hardware", "report"}
    project = tmp_path / "project"
    project.mkdir()
    (project / "hello.c").write_text(HELLO)
    (project / "test_hello.py").write_text(TEST)
    host = host_target().name
    # The board's key, as the recipe's comment says: ssh_identity in pyproject.toml.
    (project / "pyproject.toml").write_text(
        f'[tool.pytest_xarch.target.{host}]\nssh_identity = "{sshd.identity}"\n'
        'ssh_known_hosts = "off"\n')
    python = tmp_path / "python"  # the CI service's Python
    subprocess.run([sys.executable, "-m", "venv", str(python)], check=True, timeout=120)
    env = shell_environment(tmp_path / "home", python / "bin")
    env["PIP_FIND_LINKS"] = str(dist)
    for name in ("emulated", "hardware", "report"):
        lines, job_env = stages[name]
        if name == "hardware":  # the loopback sshd is the board: a device of this host's kind
            job_env = {**job_env, "XARCH_DEVICE": sshd.url, "XARCH_BOARD": host}
        _run_job(f"{recipe}:{name}", lines, project, {**env, **job_env})
    reports = project / "reports"
    emulated = json.loads((reports / "emulated.json").read_text())
    hardware = json.loads((reports / "hardware.json").read_text())
    assert {(t["target"], t["fidelity"], t["outcome"]) for t in emulated["tests"]} == {
        ("aarch64", "emulated", "passed"), ("armv7", "emulated", "passed")}
    assert {(t["target"], t["fidelity"], t["outcome"]) for t in hardware["tests"]} == {
        (host, "hardware", "passed")}
    page = (reports / "confidence.html").read_text()
    assert "hardware" in page and "emulated" in page and "<script src=" not in page


def _run_job(name: str, lines: list[str], cwd: Path, env: dict[str, str]) -> None:
    """The job's lines in one shell, as CI runs them, stopping at the first that fails."""
    commands = []
    for line in lines:
        if re.match(r"(sudo\s+)?apt-get\s", line):
            _check_installed(line)
            continue
        commands.append(line)
    script = "set -e\n" + "\n".join(commands) + "\n"
    done = subprocess.run(["bash", "--noprofile", "--norc", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900, check=False,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"{name}:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"


def _check_installed(line: str) -> None:
    """An `apt-get install` line's packages are installed here (`apt-get update`: nothing)."""
    words = line.split()
    if "install" not in words:
        return
    packages = [word for word in words[words.index("install") + 1:] if not word.startswith("-")]
    query = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\\n",
                            *packages], capture_output=True, text=True, check=False)
    installed = {row.split()[0] for row in query.stdout.splitlines()
                 if row.endswith(" installed")}
    assert set(packages) <= installed, f"not installed here: {set(packages) - installed}"
