"""The SSH runner: target programs run on a real device, which gives `hardware` fidelity."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import ClassVar, Optional

from ...elf import read_interp
from ...errors import SetupError
from ...fidelity import Fidelity
from ...targets import Target
from ..base import GuestEnvironment, HostCommand, Runner
from ..environment import host_environment
from ..result import RunResult
from .address import parse_device
from .device import Device, device_for

# Seconds the local ssh client may outlive the remote watchdog before it is killed.
_BACKSTOP = 30.0


class SshRunner(Runner):
    """Runs target programs on a real device over SSH: `hardware` fidelity."""

    kind = "ssh"
    fidelity = Fidelity.HARDWARE
    backstop: ClassVar[float] = _BACKSTOP

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.address = parse_device(target)
        self.device = device_for(self.address)
        self._runs: dict[str, RemoteRun] = {}  # scratch dir -> the run in flight

    def engine(self) -> str:
        machine = f" ({self.device.machine})" if self.device.machine else ""
        return f"{self.address.url}{machine}"

    def prefix(self) -> list[str]:
        """Nothing: on the device, target programs run directly."""
        return []

    def connect(self) -> Device:
        """Open the connection and verify the device (SetupError when it cannot serve)."""
        self.device.open(self.target)
        return self.device

    def ready(self) -> None:
        """Connect and verify the device; `command` copies the program (checking its loader)."""
        self.connect()

    def upload(self, path: str) -> str:
        """Copy a program or data file to the device (once per content); its remote path."""
        device = self.connect()
        interp = None
        if os.access(path, os.X_OK):
            try:
                interp = read_interp(path)
            except SetupError:
                interp = None  # a data file, or a program the device will judge
        return device.upload(path, interp=interp)

    def command(
        self, program: str, args: Sequence[str], env: GuestEnvironment, scratch: str,
        *, cwd: Optional[str] = None, timeout: Optional[float] = None,
    ) -> HostCommand:
        """ssh argv for the run; the device gets what is given (`env.given`), not our
        own environment: it has one of its own."""
        remote_program = self.upload(program)
        return self.remote_command(remote_program, args, dict(env.given), cwd, scratch, timeout)

    def remote_command(
        self, remote_program: str, args: Sequence[str], variables: dict[str, str],
        cwd: Optional[str], scratch: str, timeout: Optional[float],
    ) -> HostCommand:
        """ssh argv running `remote_program` on the device with `variables` in `cwd`.

        With `timeout`, a watchdog kills the remote process group when it expires
        (the ssh client cannot: the master connection holds its pipes). The device is
        connected already (`upload` or `connect`).
        """
        device = self.device
        run = RemoteRun(device, device.new_run_file())
        self._runs[scratch] = run
        if timeout:
            run.arm(timeout)
        argv = device.run_argv(remote_program, args, variables, cwd, run.run_file)
        # `cwd` is on the device; the local limit is only a backstop behind the watchdog.
        return HostCommand(argv, host_environment(), None,
                           timeout + self.backstop if timeout else None)

    def finish(self, result: RunResult, stderr: bytes, scratch: str) -> RunResult:
        run = self._runs.pop(scratch, None)
        result.stderr = stderr.decode(errors="replace")
        expired = run.disarm() if run else False
        if expired or (result.timed_out and run):
            if not expired and run:
                self.device.kill(run.run_file)
            result.timed_out = True
            result.signal = None
            result.returncode = -9
        elif not result.signal and 128 < result.returncode <= 128 + 64:
            result.signal = result.returncode - 128
            result.returncode = -result.signal
        return result

    def discard(self, scratch: str) -> None:
        """A run that never reached `finish` (ssh failed to start): stop its watchdog."""
        run = self._runs.pop(scratch, None)
        if run is not None:
            run.disarm()

    @property
    def runs_in_flight(self) -> int:
        """Runs commanded and not yet finished or discarded (their watchdogs armed)."""
        return len(self._runs)


class RemoteRun:
    """One run in flight on a device, with the watchdog that kills it at its time limit."""

    def __init__(self, device: Device, run_file: str) -> None:
        self.device = device
        self.run_file = run_file
        self.expired = threading.Event()
        self._timer: Optional[threading.Timer] = None

    def arm(self, timeout: float) -> None:
        """Kill the remote process group after `timeout` seconds unless disarmed first."""
        self._timer = threading.Timer(timeout, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def _expire(self) -> None:
        self.expired.set()
        self.device.kill(self.run_file)

    def disarm(self) -> bool:
        """Stop the watchdog; whether it had already fired (and finished its kill)."""
        if self._timer is not None:
            self._timer.cancel()
            if self.expired.is_set():
                self._timer.join()
        return self.expired.is_set()


def readiness(target: Target) -> tuple[bool, str]:
    """(reachable, what was found) for an ssh target, for `xarch targets`."""
    try:
        runner = SshRunner(target)
        runner.connect()
    except SetupError as problem:
        return False, str(problem)
    return True, f"reachable, {runner.device.machine}"
