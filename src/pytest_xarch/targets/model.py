"""The Target model, the built-in target table, name resolution and this host's target.

A target is where an artifact must run: an architecture and a libc, plus the
settings that adjust it (a pinned CPU model, a glibc floor, a sysroot, a runner).
Every spelling people use for a target resolves to one: GNU triples with or
without vendor, Rust triples, Debian architectures, Go `GOOS/GOARCH` pairs and
Docker platforms, case-insensitively.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import os
import platform
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Optional

from ..errors import ConfigError, UnknownTargetError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True)
class Target:
    """One target: its ELF identity, its toolchain names and its settings."""

    name: str
    title: str
    triple: str
    qemu: str
    machine: int
    bits: int
    endian: str
    libc: str
    loader: str
    baseline_cpu: str
    float_abi: Optional[str] = None
    arm_cpu_arch: Optional[int] = None
    debian_arch: Optional[str] = None
    packages: tuple[str, ...] = ()
    zig: Optional[str] = None
    rust: Optional[str] = None
    go: Optional[str] = None
    docker: Optional[str] = None
    aliases: tuple[str, ...] = ()
    # Settings a configuration may adjust.
    cpu: Optional[str] = None
    sysroot: Optional[str] = None
    glibc: Optional[str] = None
    page_size: int = 4096
    runner: Optional[str] = None
    timeout: Optional[float] = None
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    qemu_args: tuple[str, ...] = ()
    cc: Optional[str] = None
    cxx: Optional[str] = None
    cflags: tuple[str, ...] = ()
    ldflags: tuple[str, ...] = ()
    base: Optional[str] = None
    # How to reach a device named by runner = "ssh://...".
    ssh_identity: Optional[str] = None
    ssh_known_hosts: Optional[str] = None  # "strict", "accept-new", "off" or a file
    ssh_workdir: Optional[str] = None
    ssh_options: tuple[str, ...] = ()
    # runner = "system" (qemu-system): the guest's kernel, size and writable host folders
    kernel: Optional[str] = None
    modules: Optional[str] = None  # the kernel's lib/modules/<release> folder
    initrd: Optional[str] = None
    smp: int = 2
    memory: int = 512  # MiB
    boot_timeout: float = 120.0
    shared: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.name

    @property
    def qemu_binary(self) -> str:
        """Name of the QEMU user-mode emulator, e.g. ``qemu-aarch64``."""
        return f"qemu-{self.qemu}"

    @property
    def emulation_cpu(self) -> str:
        """The CPU model QEMU is given: the pinned one, else the baseline."""
        return self.cpu or self.baseline_cpu

    @property
    def sysroot_candidates(self) -> tuple[str, ...]:
        """Where to look for the target's libraries, most specific first."""
        if self.sysroot:
            return (self.sysroot,)
        return (f"/usr/{self.triple}", f"/usr/{self.triple}/libc")

    @property
    def isa(self) -> tuple[int, int, str]:
        """(e_machine, bits, endianness): what decides whether a CPU can run its code."""
        return (self.machine, self.bits, self.endian)

    def describe(self) -> str:
        """One line for listings: name, title and libc."""
        return f"{self.name}: {self.title}, {self.libc}, {self.triple}"


# Keys of the built-in table that map to tuples.
_TUPLE_FIELDS = {"packages", "aliases", "qemu_args", "cflags", "ldflags", "ssh_options", "shared"}
_FIELD_NAMES = {f.name for f in dataclasses.fields(Target)}


def _normalize(name: str) -> str:
    """Lower-case and drop the vendor of a four-part triple (`aarch64-unknown-linux-gnu`)."""
    text = name.strip().lower()
    parts = text.split("-")
    if len(parts) == 4 and parts[2] == "linux":
        text = "-".join((parts[0], parts[2], parts[3]))
    return text


class TargetRegistry:
    """An ordered set of targets and the index of every name they answer to."""

    def __init__(self, targets: Iterable[Target]) -> None:
        self._targets: dict[str, Target] = {}
        self._index: dict[str, str] = {}
        for target in targets:
            self._add(target)

    def _add(self, target: Target) -> None:
        self._targets[target.name] = target
        for key in self._keys_of(target):
            self._index.setdefault(key, target.name)
        # A target's own name always wins over another target's alias.
        self._index[_normalize(target.name)] = target.name

    @staticmethod
    def _keys_of(target: Target) -> Iterator[str]:
        spellings = (target.name, target.triple, target.rust, target.go, target.docker)
        for spelling in (*spellings, target.debian_arch, *target.aliases):
            if spelling:
                yield _normalize(spelling)

    def __iter__(self) -> Iterator[Target]:
        return iter(self._targets.values())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and _normalize(name) in self._index

    def names(self) -> list[str]:
        """Target names in table order."""
        return list(self._targets)

    def resolve(self, name: str | Target) -> Target:
        """The target `name` stands for, in any accepted spelling."""
        if isinstance(name, Target):
            return name
        key = _normalize(name)
        if key in self._index:
            return self._targets[self._index[key]]
        raise UnknownTargetError(self._unknown_message(name))

    def _unknown_message(self, name: str) -> str:
        known = ", ".join(self.names())
        nearest = difflib.get_close_matches(_normalize(name), list(self._index), n=1, cutoff=0.5)
        hint = f" Did you mean '{self._index[nearest[0]]}'?" if nearest else ""
        return (
            f"unknown target '{name}'.{hint} Known targets: {known}. "
            "Define more in [tool.pytest_xarch.target.<name>] (pyproject.toml) or xarch.toml."
        )

    def with_definitions(
        self, tables: Mapping[str, Mapping[str, Any]], source: str
    ) -> TargetRegistry:
        """A registry with `tables` (name -> settings) defined on top of this one.

        A table named after an existing target adjusts it; any other needs `base`.
        """
        registry = TargetRegistry(self)
        resolving: list[str] = []

        def define(name: str) -> Target:
            if name in resolving:
                chain = " -> ".join([*resolving, name])
                raise ConfigError(
                    f"{source}: target '{name}' is defined in terms of itself ({chain})"
                )
            table = tables[name]
            base_name = table.get("base", name if name in self._targets else None)
            if base_name is None:
                raise ConfigError(
                    f"{source}: [target.{name}] needs `base = \"<target>\"` naming the target it "
                    f"starts from (one of: {', '.join(self.names())})"
                )
            resolving.append(name)
            try:
                if base_name in tables and base_name != name:
                    base = define(base_name)
                else:
                    try:
                        base = self.resolve(base_name)
                    except UnknownTargetError as error:
                        raise ConfigError(f"{source}: [target.{name}] base: {error}") from None
            finally:
                resolving.pop()
            overrides = {key: value for key, value in table.items() if key != "base"}
            aliases = base.aliases if base.name == name else ()
            return make_target(name, base, overrides, aliases=aliases)

        for name in tables:
            registry._add(define(name))
        return registry


def make_target(
    name: str,
    base: Target,
    overrides: Mapping[str, Any],
    *,
    aliases: tuple[str, ...] = (),
) -> Target:
    """A copy of `base` called `name` with `overrides` applied (values already validated)."""
    values: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in _FIELD_NAMES:
            raise ConfigError(f"target '{name}': unknown setting '{key}'")
        values[key] = tuple(value) if key in _TUPLE_FIELDS else value
    if "env" in values:
        values["env"] = {**base.env, **values["env"]}
    return dataclasses.replace(base, name=name, aliases=aliases, base=base.name, **values)


def _load_builtin_tables() -> dict[str, dict[str, Any]]:
    text = resources.files("pytest_xarch").joinpath("data/targets.toml").read_text("utf-8")
    tables: dict[str, dict[str, Any]] = tomllib.loads(text)
    return tables


@functools.cache
def builtin_registry() -> TargetRegistry:
    """The built-in targets, in table order."""
    tables = _load_builtin_tables()
    built: dict[str, Target] = {}
    for name, table in tables.items():
        # An empty string clears a field a variant would otherwise inherit from its base.
        values: dict[str, Any] = {
            k: None if v == "" else tuple(v) if k in _TUPLE_FIELDS else v
            for k, v in table.items()
        }
        base_name = values.pop("base", None)
        if base_name is None:
            built[name] = Target(name=name, **values)
        else:
            built[name] = dataclasses.replace(built[base_name], name=name, **values)
    return TargetRegistry(built.values())


def resolve_target(name: str | Target, registry: Optional[TargetRegistry] = None) -> Target:
    """Resolve any accepted spelling of a target name (built-in unless a registry is given)."""
    return (registry or builtin_registry()).resolve(name)


_HOST_MACHINES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
    "armv7l": "armv7",
    "armv8l": "armv7",
    "riscv64": "riscv64",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "i686": "i686",
    "i386": "i686",
}


_simulated_host: Optional[Target] = None


def host_target() -> Target:
    """The built-in target this machine is (musl when the host's loader is musl's)."""
    return _simulated_host if _simulated_host is not None else _real_host()


@functools.cache
def _real_host() -> Target:
    machine = platform.machine()
    if machine not in _HOST_MACHINES:
        raise UnknownTargetError(f"this host's architecture '{machine}' has no built-in target")
    target = builtin_registry().resolve(_HOST_MACHINES[machine])
    musl = f"{target.name}-musl"
    host_is_musl = not os.path.exists(target.loader) and musl in builtin_registry()
    if host_is_musl and os.path.exists(builtin_registry().resolve(musl).loader):
        return builtin_registry().resolve(musl)
    return target


@contextlib.contextmanager
def simulated_host(target: Target) -> Iterator[Target]:
    """Answer every question about "this host" as if it were `target` (tests, planning)."""
    global _simulated_host
    previous, _simulated_host = _simulated_host, target
    try:
        yield target
    finally:
        _simulated_host = previous
