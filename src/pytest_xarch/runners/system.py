"""The system runner: programs run on the target's own Linux kernel under qemu-system.

The guest boots once per process and target (see `system.machine`) and every run
goes through its SSH server, with the SSH runner's contract: argv verbatim,
stdin/stdout/stderr, exit status or signal, cwd, environment, and a timeout that
kills the run's process group inside the guest. Programs are not copied: the
guest sees the host's files at their own paths. A guest that dies (a kernel
panic) or stops answering is reported on the run that met it and booted again
for the next one.
"""

from __future__ import annotations

import functools
import os
import shutil
import threading
from collections.abc import Sequence
from typing import Optional

from .. import containment
from ..errors import SetupError
from ..fidelity import Fidelity
from ..qemu_facts import qemu_version
from ..roots import LibraryRoot, choose_root
from ..system.image import SystemImage, image_for
from ..system.machine import Machine, MachineSpec, responsive, writable_dirs
from ..system.platforms import Platform, platform_for
from ..targets import Target
from .base import GuestEnvironment, HostCommand, Runner
from .qemu import require_loader
from .result import RunResult
from .ssh.address import DeviceAddress
from .ssh.device import Device
from .ssh.runner import RemoteRun, SshRunner
from .ssh.scripts import VARIABLE_NAME

SSH_FAILURE = 255  # ssh's own exit status: the connection, not the program
_PANIC_WAIT = 3.0  # seconds an unanswering guest gets to end by itself (-no-reboot)


class SystemRunner(SshRunner):
    """Runs target programs on a guest kernel under qemu-system: `system` fidelity."""

    kind = "system"
    fidelity = Fidelity.SYSTEM
    backstop = 5.0  # seconds the local ssh may outlive the guest's watchdog (it is local)

    def __init__(
        self, target: Target, *, cpu: Optional[str] = None, sysroot: Optional[str] = None
    ) -> None:
        Runner.__init__(self, target)  # not a device's: the guest is booted on demand
        self.platform: Platform = platform_for(target)
        self._cpu = cpu or target.emulation_cpu
        self._sysroot_override = sysroot
        self._runs: dict[str, RemoteRun] = {}

    @property
    def cpu(self) -> str:
        return self._cpu

    @functools.cached_property
    def root(self) -> Optional[LibraryRoot]:
        """The library root the guest's programs see in front of the host's files."""
        return choose_root(self.target, self._sysroot_override)

    @functools.cached_property
    def qemu_path(self) -> Optional[str]:
        return shutil.which(self.platform.qemu)

    def engine(self) -> str:
        version = qemu_version(self.qemu_path) if self.qemu_path else "(not installed)"
        guest = _GUESTS.get(self._key())
        kernel = f", kernel {guest.spec.image.release}" if guest else ""
        return (f"{self.platform.qemu} {version} -M {self.platform.machine} -cpu {self.cpu} "
                f"-smp {self.target.smp} -m {self.target.memory}{kernel}")

    def prefix(self) -> list[str]:
        """Nothing: inside the guest, target programs run directly."""
        return []

    def _key(self) -> tuple[Target, str, Optional[str]]:
        return (self.target, self.cpu, self._sysroot_override)

    def connect(self) -> Device:
        """Boot the guest if this process has none (or it died), and log in."""
        with _LOCK:
            guest = _GUESTS.get(self._key())
            if guest is None:
                guest = _GUESTS[self._key()] = _Guest(self.spec())
                containment.on_close(stop_all)
        self.device = guest.ready(self.target)
        return self.device

    def spec(self) -> MachineSpec:
        """What this runner's guest boots with (the image fetched if it is not cached)."""
        if self.qemu_path is None:
            raise SetupError(
                f"{self.platform.qemu} not found, needed to run target '{self.target.name}' "
                f"under system emulation: {self.platform.install_hint}"
            )
        return MachineSpec(
            self.platform, self.image(), self.cpu, self.target.smp, self.target.memory, self.root,
            writable_dirs(self.target.shared), self.target.boot_timeout,
            tuple(self.target.qemu_args),
        )

    def image(self) -> SystemImage:
        """The kernel and initramfs this runner's guest boots (fetched on first use)."""
        return image_for(self.target, self.platform)

    def guest_boots(self) -> int:
        """How many times this process booted the guest of this runner."""
        guest = _GUESTS.get(self._key())
        return guest.boots if guest else 0

    def guest_pid(self) -> Optional[int]:
        """The process id of this runner's QEMU, while its guest runs."""
        guest = _GUESTS.get(self._key())
        return guest.machine.pid if guest else None

    def prepare(self, program: str) -> None:
        self.ready()
        require_loader(self.target, self.root, program)

    def command(
        self, program: str, args: Sequence[str], env: GuestEnvironment, scratch: str,
        *, cwd: Optional[str] = None, timeout: Optional[float] = None,
    ) -> HostCommand:
        """ssh argv running `program` at its own path in the guest, with the environment
        and directory a QEMU user-mode run would have."""
        self.connect()
        variables = {name: value for name, value in env.inherited.items()
                     if VARIABLE_NAME.fullmatch(name)}
        return self.remote_command(program, args, {**variables, **env.given},
                                   cwd or os.getcwd(), scratch, timeout)

    def finish(self, result: RunResult, stderr: bytes, scratch: str) -> RunResult:
        """As on a device; and after ssh failed or a run timed out, SetupError when the guest
        died or hung (with its console), after which the next run boots a new one."""
        problem = None
        guest = _GUESTS.get(self._key())
        if guest is not None and (result.returncode == SSH_FAILURE or result.timed_out):
            problem = guest.problem()  # a hung guest is stopped first: the watchdog's kill
        result = super().finish(result, stderr, scratch)  # then fails at once
        if problem:
            raise SetupError(problem)
        return result


class _Guest:
    """The booted machine of one target in this process, and the connection to it."""

    def __init__(self, spec: MachineSpec) -> None:
        self.spec = spec
        self.machine = Machine(spec)
        self.device: Optional[Device] = None
        self.boots = 0
        self._lock = threading.RLock()

    def ready(self, target: Target) -> Device:
        with self._lock:
            if self.device is not None and self.machine.alive():
                self.device.open(target)
                return self.device
            self.shut_down()
            self.machine.boot()
            self.boots += 1
            assert self.machine.port is not None
            self.device = Device(DeviceAddress(
                "127.0.0.1", user="root", port=self.machine.port,
                identity=str(self.machine.key_path), known_hosts="off", workdir="/run/xarch",
            ))
            self.device.open(target)
            return self.device

    def problem(self) -> Optional[str]:
        """None while the guest runs and answers; else what happened to it, with its
        console, after stopping it (so that the next run boots a new one)."""
        with self._lock:
            if self.machine.alive() and responsive(self.machine.port):
                return None
            ended = self.machine.wait_ended(_PANIC_WAIT)  # a panicking kernel takes a moment
            console = self.machine.console_tail()
            what = ("'s kernel panicked" if "Kernel panic" in console
                    else " ended" if ended else " stopped answering")
            self.shut_down()
            return (f"the {self.spec.platform.qemu} guest{what} during this run (the next run "
                    f"boots a new one); its console:\n{console}")

    def shut_down(self) -> None:
        """Stop the machine, then forget the connection (whose files lived in the guest)."""
        self.machine.stop()
        if self.device is not None:
            self.device.close()
            self.device = None


_GUESTS: dict[tuple[Target, str, Optional[str]], _Guest] = {}
_LOCK = threading.Lock()


def stop_all() -> None:
    """Shut down every guest of this process (when its containment closes)."""
    with _LOCK:
        guests = list(_GUESTS.values())
        _GUESTS.clear()
    for guest in guests:
        guest.shut_down()


def readiness(target: Target) -> tuple[bool, str]:
    """(ready, what was found) for a system target, for `xarch targets`: the emulator and
    the platform, without booting or fetching anything."""
    try:
        runner = SystemRunner(target)
    except SetupError as problem:
        return False, str(problem)
    if runner.qemu_path is None:
        return False, f"{runner.platform.qemu} not found: {runner.platform.install_hint}"
    return True, (f"{runner.platform.qemu} {qemu_version(runner.qemu_path)}; the guest image "
                  "is fetched on first use and cached")
