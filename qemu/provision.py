#!/usr/bin/env python3
"""Install what pytest-xarch's demo, tests and CI need on a Debian/Ubuntu machine.

    python3 qemu/provision.py [--targets aarch64,armv7,...] [--multiarch [arm64,...]]
                              [--no-test-tools] [--dry-run]

Installs qemu-user and qemu-user-static, the cross compilers and sysroots of the
chosen targets (the `packages` of each target in src/pytest_xarch/data/targets.toml;
the host's own target gets the native gcc/g++ instead) and the tools the test
suite uses (cmake, golang-go, openssh-server, binutils, googletest, catch2, ...).
`--multiarch arm64` also enables Debian multiarch for those architectures
(`dpkg --add-architecture`) and installs their glibc and Rust standard library
(`libc6:arm64`, `libstd-rust-dev:arm64`, with Debian's rustc and cargo): the
setup pytest-xarch's library roots are tested against. It changes the machine's
dpkg configuration, so nothing does it unless asked (CI asks, for its whole run).

Idempotent: packages already installed are skipped (dpkg-query), `apt-get update`
runs only when something is missing, and nothing needs root when nothing is missing.
Installing needs root: run as root, or have `sudo`. Exit status 0 when everything
is present afterwards, 1 when it could not be done (with the reason), 2 on bad usage.

Repository tooling, run before the package or a virtualenv exists: it uses only
the standard library (and reads the target table itself).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
TARGET_TABLE = ROOT / "src" / "pytest_xarch" / "data" / "targets.toml"
DEFAULT_TARGETS = ("aarch64", "armv7", "armel", "riscv64", "s390x", "ppc64le", "i686")
EMULATORS = ("qemu-user", "qemu-user-static")
TEST_TOOLS = (
    "cmake", "golang-go", "openssh-server", "binutils", "make", "python3-venv",
    "googletest", "catch2", "doctest-dev",  # sources/headers of the collector test suites
    "meson", "ninja-build", "autoconf", "automake", "libtool", "pkg-config",  # `xarch toolchain`
    "qemu-system-arm", "openssh-client",  # the system runner's aarch64 guest, logged in by ssh
)
HOST_COMPILERS = ("gcc", "g++", "libc6-dev")
# Per foreign Debian architecture under --multiarch; the Rust toolchain that uses them.
MULTIARCH_PACKAGES = ("libc6", "libstd-rust-dev")
MULTIARCH_TOOLS = ("rustc", "cargo")
# platform.machine() -> name of the built-in target this host is.
HOST_TARGETS = {
    "x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64",
    "armv7l": "armv7", "riscv64": "riscv64", "ppc64le": "ppc64le", "s390x": "s390x",
    "i686": "i686", "i386": "i686",
}
APT_TIMEOUT = 3600  # seconds for one apt-get call (a fresh machine downloads ~1 GB)
QUERY_TIMEOUT = 60


class ProvisionError(Exception):
    """Something this script cannot do; the message says what and how to fix it."""


def say(message: str) -> None:
    print(f"provision: {message}", flush=True)


def load_table(path: Path = TARGET_TABLE) -> dict[str, dict[str, Any]]:
    """The target table (name -> fields), with tomllib when Python has it."""
    text = path.read_text("utf-8")
    try:
        import tomllib
    except ImportError:  # Python < 3.11 (Ubuntu 22.04): the table uses a tiny TOML subset
        return _parse_simple_toml(text)
    tables: dict[str, dict[str, Any]] = tomllib.loads(text)
    return tables


def _parse_simple_toml(text: str) -> dict[str, dict[str, Any]]:
    """[name] headers and `key = "str" | int | ["str", ...]` lines, as targets.toml uses."""
    tables: dict[str, dict[str, Any]] = {}
    current: Optional[dict[str, Any]] = None
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        header = re.fullmatch(r"\[([^\]]+)\]", line)
        if header:
            current = tables.setdefault(header.group(1).strip(), {})
            continue
        key, _, value = (part.strip() for part in line.partition("="))
        if current is None or not key:
            continue
        if value.startswith("["):
            current[key] = re.findall(r'"([^"]*)"', value)
        elif value.startswith('"'):
            current[key] = value.strip('"')
        else:
            current[key] = int(value)
    return tables


def _spellings(name: str, table: dict[str, Any]) -> list[str]:
    values = [name, table.get("triple"), table.get("debian_arch"), *table.get("aliases", [])]
    return [str(value).lower() for value in values if value]


def resolve(names: Sequence[str], tables: dict[str, dict[str, Any]]) -> list[str]:
    """Target names for `names` (short names, triples, Debian names or aliases)."""
    index: dict[str, str] = {}
    for name, table in tables.items():
        for spelling in _spellings(name, table):
            index.setdefault(spelling, name)
    resolved = []
    for name in names:
        key = name.strip().lower()
        if key not in index:
            known = ", ".join(tables)
            raise ProvisionError(f"unknown target '{name}' (known targets: {known})")
        if index[key] not in resolved:
            resolved.append(index[key])
    return resolved


def host_target() -> Optional[str]:
    return HOST_TARGETS.get(platform.machine())


def packages_for(targets: Sequence[str], tables: dict[str, dict[str, Any]],
                 test_tools: bool) -> list[str]:
    """Debian packages for the emulators, the targets' toolchains and the test tools."""
    wanted: list[str] = list(EMULATORS)
    host = host_target()
    for name in targets:
        if name == host:  # Debian has no cross compiler from a machine to itself
            wanted += HOST_COMPILERS
        else:
            wanted += tables[name].get("packages", [])
    if test_tools:
        wanted += TEST_TOOLS
    return list(dict.fromkeys(wanted))


def check_platform(os_release: Path = Path("/etc/os-release")) -> None:
    """Refuse anything that is not Debian-like with apt."""
    fields: dict[str, str] = {}
    try:
        for line in os_release.read_text().splitlines():
            key, _, value = line.partition("=")
            fields[key] = value.strip().strip('"')
    except OSError:
        pass
    family = {fields.get("ID", "")} | set(fields.get("ID_LIKE", "").split())
    if not family & {"debian", "ubuntu"} or not shutil.which("apt-get"):
        name = fields.get("PRETTY_NAME") or platform.system()
        raise ProvisionError(
            f"this machine is {name}; provisioning supports Debian and Ubuntu (apt) only. "
            "Install qemu-user, the cross gcc toolchains and their sysroots with your "
            "distribution's tools, then run `make test` again"
        )


def multiarch_packages(architectures: Sequence[str]) -> list[str]:
    """`libc6:arm64` and the rest, for each foreign architecture; the tools that use them."""
    if not architectures:
        return []
    return [*(f"{p}:{arch}" for arch in architectures for p in MULTIARCH_PACKAGES),
            *MULTIARCH_TOOLS]


def missing_packages(packages: Sequence[str]) -> list[str]:
    """The packages of `packages` dpkg does not list as installed (`name:arch` for a
    foreign architecture's, a plain name for the native one's)."""
    completed = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package}:${Architecture} ${db:Status-Status}\n",
         *packages],
        capture_output=True, text=True, timeout=QUERY_TIMEOUT, check=False,
    )
    installed: set[str] = set()
    for line in completed.stdout.splitlines():
        if line.endswith(" installed"):
            qualified = line.split()[0]
            installed |= {qualified, qualified.split(":")[0]}
    return [package for package in packages if package not in installed]


def foreign_architectures() -> list[str]:
    completed = subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True,
                               text=True, timeout=QUERY_TIMEOUT, check=False)
    return completed.stdout.split()


def privilege_prefix() -> list[str]:
    """[] as root, ["sudo"] when sudo exists, else a ProvisionError explaining what to do."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        return ["sudo"]
    raise ProvisionError(
        "installing packages needs root, this is not root and sudo is not installed: "
        "run `python3 qemu/provision.py` as root (or install sudo), then run make again"
    )


def run_root(prefix: list[str], *argv: str) -> None:
    say("running " + " ".join([*prefix, *argv]))
    completed = subprocess.run([*prefix, *argv], stdin=subprocess.DEVNULL,
                               timeout=QUERY_TIMEOUT, check=False)
    if completed.returncode != 0:
        raise ProvisionError(f"{argv[0]} failed with status {completed.returncode}")


def apt(prefix: list[str], *args: str) -> None:
    argv = [*prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get",
            "-q", "-o", "DPkg::Lock::Timeout=300", *args]
    say("running " + " ".join(argv))
    try:
        completed = subprocess.run(argv, stdin=subprocess.DEVNULL, timeout=APT_TIMEOUT,
                                   check=False)
    except subprocess.TimeoutExpired:
        raise ProvisionError(f"apt-get {args[0]} took longer than {APT_TIMEOUT}s") from None
    if completed.returncode != 0:
        raise ProvisionError(
            f"apt-get {args[0]} failed with status {completed.returncode} (its output is above)"
        )


def provision(targets: Sequence[str], *, test_tools: bool, dry_run: bool,
              multiarch: Sequence[str] = ()) -> int:
    """Install what is missing; returns the exit status."""
    check_platform()
    tables = load_table()
    chosen = resolve(targets, tables)
    host = host_target()
    if host and host in tables and host not in chosen:
        chosen.append(host)
    packages = packages_for(chosen, tables, test_tools) + multiarch_packages(multiarch)
    say(f"targets: {', '.join(chosen)}"
        + (f"; Debian multiarch: {', '.join(multiarch)}" if multiarch else ""))
    new_architectures = [arch for arch in multiarch if arch not in foreign_architectures()]
    missing = missing_packages(packages)
    present = len(packages) - len(missing)
    if not missing and not new_architectures:
        say(f"all {len(packages)} packages are installed; nothing to do")
        return 0
    say(f"{present} of {len(packages)} packages installed; missing: {' '.join(missing)}")
    if new_architectures:
        say(f"architectures to add to dpkg: {' '.join(new_architectures)}")
    if dry_run:
        say("dry run: not installing")
        return 0
    prefix = privilege_prefix()
    for arch in new_architectures:
        run_root(prefix, "dpkg", "--add-architecture", arch)
    apt(prefix, "update")
    apt(prefix, "install", "-y", "--no-install-recommends", *missing)
    still = missing_packages(packages)
    if still:
        raise ProvisionError(f"still missing after apt-get install: {' '.join(still)}")
    say(f"installed {len(missing)} packages: {' '.join(missing)}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="qemu/provision.py",
        description="Install QEMU user-mode, cross toolchains and test tools (Debian/Ubuntu).",
    )
    parser.add_argument(
        "--targets", default=",".join(DEFAULT_TARGETS),
        help=f"comma-separated targets (default: {','.join(DEFAULT_TARGETS)}; "
        "the host's own target is always added)",
    )
    parser.add_argument("--no-test-tools", action="store_true",
                        help="skip the test suite's tools (" + ", ".join(TEST_TOOLS) + ")")
    parser.add_argument(
        "--multiarch", nargs="?", const="arm64", default="", metavar="ARCHS",
        help="also enable these Debian architectures (default arm64) and install their glibc "
        "and Rust std through multiarch; changes dpkg's configuration",
    )
    parser.add_argument("--dry-run", action="store_true", help="only report what is missing")
    args = parser.parse_args(argv)
    targets = [name for name in args.targets.split(",") if name.strip()]
    architectures = [arch.strip() for arch in args.multiarch.split(",") if arch.strip()]
    bad = [arch for arch in architectures if not re.fullmatch(r"[a-z0-9]+", arch)]
    if bad:
        parser.error(f"--multiarch: {bad[0]!r} is not a Debian architecture name (e.g. arm64)")
    try:
        return provision(targets, test_tools=not args.no_test_tools, dry_run=args.dry_run,
                         multiarch=architectures)
    except ProvisionError as problem:
        print(f"provision: error: {problem}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
