"""The Runner interface and what a runner hands the host: HostCommand, GuestEnvironment."""

from __future__ import annotations

import abc
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Optional

from ..fidelity import Fidelity
from ..process import LineFilter
from ..roots import LibraryRoot
from ..targets import Target
from .result import RunResult


@dataclass(frozen=True)
class GuestEnvironment:
    """What a guest sees: this process's environment, and what is given on top of it.

    `given` is ours and the caller's (XARCH_* variables, the target's `env`, a run's
    `env=`): a runner that does not hand on this process's environment (a remote
    device has its own) still passes all of `given`, values equal to ours included.
    """

    inherited: Mapping[str, str]
    given: Mapping[str, str]

    def full(self) -> dict[str, str]:
        """Everything the guest sees."""
        return {**self.inherited, **self.given}


@dataclass
class HostCommand:
    """What the host executes for one run: argv, environment, directory and time limit."""

    argv: list[str]
    env: dict[str, str]
    cwd: Optional[str] = None
    timeout: Optional[float] = None  # None: the run's own limit
    stderr_filter: Optional[LineFilter] = None  # lines to drop from inherited stderr
    by_hand: Optional[list[str]] = None  # argv to type again (without the run's scratch files)

    def reproduction(self, given: Mapping[str, str]) -> str:
        """A shell line that runs the same again by hand: folder, the `given` variables the
        host command sets, argv."""
        env = [f"{name}={value}" for name, value in given.items() if self.env.get(name) == value]
        line = shlex.join([*(["env", *env] if env else []), *(self.by_hand or self.argv)])
        return f"cd {shlex.quote(self.cwd)} && {line}" if self.cwd else line


class Runner(abc.ABC):
    """How binaries of one target are executed on this host."""

    kind: ClassVar[str]
    fidelity: ClassVar[Fidelity]

    def __init__(self, target: Target) -> None:
        self.target = target

    @property
    def cpu(self) -> Optional[str]:
        """The CPU model binaries run on, when the runner pins one."""
        return None

    @property
    def root(self) -> Optional[LibraryRoot]:
        """Where programs find their loader and libraries on this host (None: not here,
        or nowhere: static programs only)."""
        return None

    @property
    def sysroot(self) -> Optional[Path]:
        """The tree the root's glibc comes from (`/` for the host's and multiarch)."""
        root = self.root
        return root.tree if root is not None else None

    @property
    def qemu_path(self) -> Optional[str]:
        """The QEMU that runs the programs, when they are emulated."""
        return None

    @abc.abstractmethod
    def engine(self) -> str:
        """What executes the programs: `qemu-aarch64 7.2.22 -cpu cortex-a53`."""

    def describe(self) -> str:
        """One line for reports: the engine, and the library root unless it is the host's."""
        root = self.root
        if root is None or root.kind == "host":
            return self.engine()
        return f"{self.engine()}; {root.describe()}"

    @abc.abstractmethod
    def prefix(self) -> list[str]:
        """The command line to put before a program to run it this way (XARCH_RUNNER)."""

    def ready(self) -> None:  # noqa: B027 - optional hook
        """SetupError when this runner can run nothing here (no QEMU, a CPU model it lacks,
        no binfmt handler): a set-up problem, before any program is named."""

    def prepare(self, program: str) -> None:
        """Check that everything the run of `program` needs is present (SetupError if not)."""
        self.ready()

    @abc.abstractmethod
    def command(
        self, program: str, args: Sequence[str], env: GuestEnvironment, scratch: str, *,
        cwd: Optional[str] = None, timeout: Optional[float] = None,
    ) -> HostCommand:
        """What the host executes to run `program` with the guest `env` in `cwd`.

        `scratch` is a directory private to this run, removed after `finish`;
        `timeout` is the run's limit, which a remote runner enforces on the device.
        """

    def finish(self, result: RunResult, stderr: bytes, scratch: str) -> RunResult:
        """Turn runner-specific artefacts (banners, logs) into facts on the result."""
        result.stderr = stderr.decode(errors="replace")
        return result

    def discard(self, scratch: str) -> None:  # noqa: B027 - optional hook
        """Forget what `command` prepared for the run in `scratch` (called after every run,
        also one that never reached `finish`)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the runner holds (connections); it is not used afterwards."""
