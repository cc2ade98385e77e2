"""Debian packages of another architecture, fetched without touching dpkg or the system's apt.

A private apt state (its own lists, an empty dpkg status, only the target's
architecture) reads the host's own package sources; `apt-get download` then
fetches .deb files, which `dpkg-deb -x` unpacks anywhere.
"""

from __future__ import annotations

import glob
import os
import shutil
import time
from pathlib import Path
from typing import Optional

from ..errors import SetupError
from ..process import run_tool

LISTS_MAX_AGE = 24 * 3600.0  # seconds before the private package lists are read again
_SOURCES = ("/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*")))


class PrivateApt:
    """apt for `arch` (a Debian architecture, `arm64`) with its state in `state_dir`, reading
    the host's package sources, or `sources` (deb822 text) instead."""

    def __init__(self, arch: str, state_dir: Path, sources: Optional[str] = None) -> None:
        self.arch = arch
        self.state_dir = state_dir
        self.sources = sources

    def _options(self) -> list[str]:
        state = self.state_dir
        return [
            "-o", f"Dir::Etc::sourcelist={state / 'sources.list'}",
            "-o", f"Dir::Etc::sourceparts={state / 'sources.list.d'}",
            "-o", f"Dir::State::lists={state / 'lists'}",
            "-o", "Dir::State::status=/dev/null",
            "-o", f"Dir::Cache={state / 'cache'}",
            "-o", f"APT::Architectures::={self.arch}",
            "-o", f"APT::Architecture={self.arch}",
            "-o", "Debug::NoLocking=1",
            "-o", "APT::Sandbox::User=root",
            "-q",
        ]

    def _apt(self, tool: str, *args: str, cwd: Optional[Path] = None,
             timeout: float = 300.0) -> str:
        if shutil.which(tool) is None:
            raise SetupError(f"{tool} not found: fetching the target's kernel needs Debian's apt "
                             "(or set kernel and initrd for the target)")
        done = run_tool([tool, *self._options(), *args], timeout=timeout,
                        cwd=str(cwd) if cwd else None)
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.startswith("E:")]
            raise SetupError(
                f"{tool} {' '.join(args)} for {self.arch} failed: "
                f"{(lines or done.stderr.splitlines() or ['no message'])[-1]}; check the "
                "package sources in /etc/apt (a Debian mirror carries every architecture), "
                "or set kernel and initrd for the target"
            )
        return done.stdout

    def refresh(self) -> None:
        """Read the package lists when they are missing or older than a day."""
        stamp = self.state_dir / "updated"
        if stamp.exists() and time.time() - stamp.stat().st_mtime < LISTS_MAX_AGE:
            return
        parts = self.state_dir / "sources.list.d"
        parts.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "lists" / "partial").mkdir(parents=True, exist_ok=True)
        (self.state_dir / "cache" / "archives" / "partial").mkdir(parents=True, exist_ok=True)
        (self.state_dir / "sources.list").write_text("")
        if self.sources is not None:
            (parts / "given.sources").write_text(self.sources)
        for source in _SOURCES if self.sources is None else ():
            if os.path.isfile(source) and source.endswith((".list", ".sources")):
                shutil.copy(source, parts / os.path.basename(source))
        self._apt("apt-get", "update")
        stamp.write_text("")

    def depends(self, package: str) -> list[str]:
        """The packages `package` depends on (the first of each alternative)."""
        text = self._apt("apt-cache", "depends", "--no-recommends", "--no-suggests", package)
        return [line.split(":", 1)[1].strip().split(":")[0] for line in text.splitlines()
                if line.strip().startswith("Depends:") and "<" not in line]

    def versions(self, packages: list[str]) -> dict[str, str]:
        """The version apt would download of each of `packages` (one query for all)."""
        text = self._apt("apt-cache", "show", "--no-all-versions", *packages)
        found: dict[str, str] = {}
        name = ""
        for line in text.splitlines():
            if line.startswith("Package:"):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("Version:") and name:
                found.setdefault(name, line.split(":", 1)[1].strip())
        missing = [package for package in packages if package not in found]
        if missing:
            raise SetupError(f"no {', '.join(missing)} for {self.arch} in the package lists")
        return found

    def download(self, packages: list[str], into: Path) -> list[Path]:
        """The .deb files of `packages` (of `arch`), downloaded into `into`."""
        self._apt("apt-get", "download", *[f"{name}:{self.arch}" for name in packages], cwd=into)
        return sorted(into.glob("*.deb"))


def unpack(deb: Path, into: Path) -> None:
    """`dpkg-deb -x`: the files of `deb` under `into`."""
    done = run_tool(["dpkg-deb", "-x", str(deb), str(into)], timeout=300)
    if done.returncode != 0:
        raise SetupError(f"cannot unpack {deb.name}: {done.stderr.strip()}")
