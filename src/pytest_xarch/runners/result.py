"""RunResult: one run of a target program, shaped like `subprocess.CompletedProcess`."""

from __future__ import annotations

import signal as signal_module
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from ..fidelity import Fidelity
from ..process import ProcessOutcome

if TYPE_CHECKING:
    from .base import Runner


def signal_name(number: int) -> str:
    """`SIGSEGV` for 11; `signal 42` for a number without a name."""
    try:
        return signal_module.Signals(number).name
    except ValueError:
        return f"signal {number}"


def killing_signal(returncode: int, timed_out: bool) -> Optional[int]:
    """The signal the program died from, unless it was us killing it at its timeout."""
    return -returncode if returncode < 0 and not timed_out else None


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
    stopped_early: bool = False  # timed out at a watch's deadline (a case's own limit)
    reproduce: str = ""  # a shell line that runs it again by hand

    @classmethod
    def from_outcome(
        cls, outcome: ProcessOutcome, args: Sequence[str], target_name: str, runner: Runner, *,
        timeout: float, command: Sequence[str], description: Optional[str] = None,
    ) -> RunResult:
        """The result of a run that `runner` made and `outcome` records (stderr left to
        the runner's `finish`, which knows its banners)."""
        return cls(
            args=list(args),
            returncode=outcome.returncode,
            stdout=outcome.stdout.decode(errors="replace"),
            stderr="",
            target=target_name,
            runner=runner.kind,
            fidelity=runner.fidelity,
            runner_description=description or runner.describe(),
            command=list(command),
            duration=outcome.duration,
            timed_out=outcome.timed_out,
            timeout=timeout,
            signal=killing_signal(outcome.returncode, outcome.timed_out),
            max_rss_kb=outcome.max_rss_kb,
            cpu_time=outcome.cpu_time,
            cpu=runner.cpu,
            qemu_path=runner.qemu_path,
            stdout_dropped=outcome.stdout_dropped,
            stderr_dropped=outcome.stderr_dropped,
            stopped_early=outcome.stopped_early,
        )

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


