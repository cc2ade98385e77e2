"""What every runner shares: the Runner interface, RunResult and the guest environment."""

from __future__ import annotations

import abc
import os
import signal as signal_module
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Optional

from ..fidelity import Fidelity
from ..process import LineFilter
from ..targets import Target

# Host variables that must never reach a guest (or the emulator itself).
_HOST_ONLY_PREFIXES = ("LD_", "QEMU_", "XARCH_")
_HOST_ONLY_NAMES = frozenset({"GLIBC_TUNABLES", "MALLOC_CHECK_", "MALLOC_PERTURB_"})


def is_loader_variable(name: str) -> bool:
    """Variables read by the dynamic loader, which must not leak between host and guest."""
    return name.startswith("LD_") or name == "GLIBC_TUNABLES"


def host_environment() -> dict[str, str]:
    """This process's environment without loader, QEMU and xarch control variables."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_HOST_ONLY_PREFIXES) and name not in _HOST_ONLY_NAMES
    }


def signal_name(number: int) -> str:
    """`SIGSEGV` for 11; `signal 42` for a number without a name."""
    try:
        return signal_module.Signals(number).name
    except ValueError:
        return f"signal {number}"


@dataclass
class RunResult:
    """One run of a target binary; shaped like `subprocess.CompletedProcess`."""

    args: list[str]
    returncode: int  # -N when the guest was killed by signal N, like subprocess
    stdout: str
    stderr: str
    target: str
    runner: str
    fidelity: Fidelity
    runner_description: str
    command: list[str] = field(default_factory=list)  # what the host executed
    duration: float = 0.0
    timed_out: bool = False
    timeout: Optional[float] = None
    signal: Optional[int] = None
    max_rss_kb: Optional[int] = None
    cpu_time: Optional[float] = None
    cpu: Optional[str] = None
    qemu_path: Optional[str] = None
    unimplemented: str = ""  # QEMU's log of unimplemented syscalls, kept for failed runs
    stdout_dropped: int = 0  # bytes left out of the middle of stdout (the output limit)
    stderr_dropped: int = 0

    @property
    def truncation(self) -> str:
        """`stdout: 1.9 GiB dropped from the middle ...`, or "" when nothing was dropped."""
        notes = [
            f"{label}: {_size(dropped)} dropped from the middle (output limit)"
            for label, dropped in (("stdout", self.stdout_dropped),
                                   ("stderr", self.stderr_dropped)) if dropped
        ]
        return "; ".join(notes)

    @property
    def signal_name(self) -> Optional[str]:
        """Name of the terminating signal (`SIGILL`), if the guest died from one."""
        return signal_name(self.signal) if self.signal else None

    @property
    def exit_status(self) -> int:
        """The status a shell would report: 128+N for signal N."""
        return 128 + self.signal if self.signal else self.returncode

    @property
    def ok(self) -> bool:
        """Exited with status 0 within its timeout."""
        return self.returncode == 0 and not self.timed_out

    @property
    def qemu_version(self) -> Optional[str]:
        """Version of the QEMU that ran this, e.g. `7.2.22` (None when not emulated)."""
        if not self.qemu_path:
            return None
        from ..qemu_facts import qemu_version

        return qemu_version(self.qemu_path)

    def outcome(self) -> str:
        """How the run ended, in words: `exit 3`, `killed by SIGSEGV`, `timed out after 5s`."""
        if self.timed_out:
            return f"timed out after {self.timeout:g}s" if self.timeout else "timed out"
        if self.signal:
            return f"killed by {self.signal_name}"
        return f"exit {self.returncode}"

    def explain(self) -> str:
        """A multi-line account for assertion messages: where it ran, how it ended, output."""
        lines = [
            f"{' '.join(self.args)} [{self.target}, {self.runner_description}]: {self.outcome()}"
        ]
        if self.truncation:
            lines.append(f"[{self.truncation}]")
        for label, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            if text.strip():
                lines.append(f"--- {label} ---\n{text.rstrip()}")
        if self.unimplemented:
            lines.append(f"--- QEMU: unimplemented in emulation ---\n{self.unimplemented.rstrip()}")
        return "\n".join(lines)

    def check_returncode(self) -> None:
        """Raise `subprocess.CalledProcessError` unless the run succeeded."""
        if not self.ok:
            raise subprocess.CalledProcessError(
                self.exit_status, self.args, self.stdout, self.stderr
            )


def _size(count: int) -> str:
    """`1.9 GiB`, `12 bytes`."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


@dataclass
class HostCommand:
    """What the host executes for one run: argv, environment, directory and time limit."""

    argv: list[str]
    env: dict[str, str]
    cwd: Optional[str] = None
    timeout: Optional[float] = None  # None: the run's own limit
    stderr_filter: Optional[LineFilter] = None  # lines to drop from inherited stderr


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

    @abc.abstractmethod
    def describe(self) -> str:
        """One line for reports: `qemu-aarch64 7.2.22 -cpu cortex-a53`."""

    @abc.abstractmethod
    def prefix(self) -> list[str]:
        """The command line to put before a program to run it this way (XARCH_RUNNER)."""

    def prepare(self, program: str) -> None:  # noqa: B027 - optional hook
        """Check that everything the run of `program` needs is present (SetupError if not)."""

    @abc.abstractmethod
    def command(
        self, program: str, args: Sequence[str], env: Mapping[str, str], scratch: str, *,
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
