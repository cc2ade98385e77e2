"""One SSH connection (a ControlMaster) per device and process, and its session directory.

The system `ssh` is used with BatchMode; the master connection is started once
and lives in this process's containment until the containment closes, when
`close_all()` removes the remote session directories and stops the masters.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Optional

from ... import containment
from ...errors import SetupError
from ...files import sha256_of, short_temp_dir
from ...process import ProcessOutcome, execute
from ...targets import Target, machine_runs
from ..environment import host_environment
from .address import DeviceAddress
from .scripts import _CLEANUP, _KILL, _PROBE, _RUN, _UPLOAD, VARIABLE_NAME

CONNECT_TIMEOUT = 5  # seconds for the TCP connect and handshake
CONTROL_PERSIST = 300  # an orphaned master (we were SIGKILLed) exits after this idle time
_COMMAND_TIMEOUT = 60.0  # housekeeping commands (probe, upload, kill, cleanup)
RETRY_AFTER = 60.0  # seconds a failed connection is reported again without a new attempt


def _last_line(text: bytes) -> str:
    lines = [line for line in text.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


class Device:
    """One SSH connection (a ControlMaster) to a device and its session directory there."""

    def __init__(self, address: DeviceAddress) -> None:
        self.address = address
        self.machine: Optional[str] = None
        self.has_loader: Optional[bool] = None
        self.session_dir: Optional[str] = None
        self._control_dir: Optional[str] = None
        self._uploaded: dict[str, str] = {}  # sha256 -> remote path
        self._lock = threading.RLock()
        self._failed: Optional[tuple[float, SetupError]] = None  # when, and why

    # -- ssh command lines -------------------------------------------------------------
    def _options(self) -> list[str]:
        address = self.address
        options = [
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
            "-o", "ServerAliveInterval=15",
            "-o", "ServerAliveCountMax=3",
            "-o", "LogLevel=ERROR",
            "-o", f"ControlPath={self._control_dir}/master",
        ]
        if address.known_hosts == "off":
            options += ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        elif address.known_hosts == "strict":
            options += ["-o", "StrictHostKeyChecking=yes"]
        elif address.known_hosts == "accept-new":
            options += ["-o", "StrictHostKeyChecking=accept-new"]
        else:
            options += ["-o", "StrictHostKeyChecking=yes",
                        "-o", f"UserKnownHostsFile={os.path.expanduser(address.known_hosts)}"]
        if address.identity:
            options += ["-i", address.identity, "-o", "IdentitiesOnly=yes"]
        for option in address.options:
            options += ["-o", option]
        if address.port:
            options += ["-p", str(address.port)]
        if address.user:
            options += ["-l", address.user]
        return options

    def _ssh(self) -> str:
        path = shutil.which("ssh")
        if path is None:
            raise SetupError(
                "ssh not found, needed to run on the device: install the OpenSSH client "
                "(apt-get install openssh-client)"
            )
        return path

    def ssh_argv(self, script: str, *args: str) -> list[str]:
        """ssh argv running `sh -c script args...` on the device over the open connection."""
        remote = " ".join(shlex.quote(word) for word in ("sh", "-c", script, "xarch", *args))
        return [self._ssh(), *self._options(), "-o", "ControlMaster=no", "--",
                self.address.host, remote]

    def _run(self, script: str, *args: str, stdin: Optional[bytes] = None,
             timeout: float = _COMMAND_TIMEOUT) -> ProcessOutcome:
        return execute(self.ssh_argv(script, *args), timeout=timeout, stdin=stdin,
                       env=host_environment())

    # -- lifetime ----------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        """Whether the connection is up (opened and not closed)."""
        return self.session_dir is not None

    def open(self, target: Target) -> None:
        """Connect (one handshake), check the architecture, create the session directory."""
        with self._lock:
            if self.is_open:
                self.check_machine(target)
                return
            if self._failed and time.monotonic() - self._failed[0] < RETRY_AFTER:
                # Many tests share one device: one wait for a dead device, not one each.
                raise SetupError(f"{self._failed[1]} (not retried: the connection failed "
                                 f"less than {RETRY_AFTER:g} s ago)")
            self._control_dir = tempfile.mkdtemp(prefix="xarch-ssh-", dir=short_temp_dir())
            _register(self)
            try:
                try:
                    self._start_master()
                except SetupError as error:
                    self._failed = (time.monotonic(), error)
                    raise
                self._failed = None
                self._probe(target)
            except BaseException:
                self.close()
                raise
            self.check_machine(target)

    def _start_master(self) -> None:
        argv = [self._ssh(), *self._options(), "-o", "ControlMaster=yes",
                "-o", f"ControlPersist={CONTROL_PERSIST}", "-f", "-N", "--", self.address.host]
        # The master daemonises (-f): it lives in this process's containment until we end.
        outcome = execute(argv, timeout=CONNECT_TIMEOUT * 3 + 5, env=host_environment(),
                          persistent=True)
        if outcome.returncode != 0 or outcome.timed_out:
            reason = _last_line(outcome.stderr) or (
                "timed out" if outcome.timed_out else f"ssh exit status {outcome.returncode}"
            )
            raise SetupError(
                f"cannot connect to device {self.address.url}: {reason}. Check that the device "
                "is up and reachable and that the runner URL, ssh_identity and "
                "ssh_known_hosts settings of the target are right (ssh runs with BatchMode: "
                "no passwords, no prompts)"
            )

    def _probe(self, target: Target) -> None:
        outcome = self._run(_PROBE, self.address.workdir or "", target.loader)
        lines = outcome.stdout.decode(errors="replace").split()
        if outcome.returncode != 0 or len(lines) != 3:
            raise SetupError(
                f"device {self.address.url} did not answer the setup probe (uname -m, mktemp -d)"
                f": {_last_line(outcome.stderr) or f'exit status {outcome.returncode}'}; the "
                "device needs a POSIX sh, uname and mktemp, and a writable ssh_workdir"
            )
        self.machine, self.session_dir = lines[0], lines[1]
        self.has_loader = lines[2] == "loader"

    def check_machine(self, target: Target) -> None:
        """Refuse a device whose CPU cannot run the target's programs."""
        if not machine_runs(self.machine or "", target):
            raise SetupError(
                f"device {self.address.url} is {self.machine} (uname -m), which cannot run "
                f"programs of target '{target.name}' ({target.title}): point the target's runner "
                "at a device of that architecture, or select the target that matches the device"
            )

    def close(self) -> None:
        """Remove the session directory, stop the master connection, forget the uploads."""
        with self._lock:
            if self._control_dir is None:
                return
            try:
                if self.session_dir:
                    self._run(_CLEANUP, self.session_dir, timeout=15)
                execute([self._ssh(), *self._options(), "-O", "exit", "--", self.address.host],
                        timeout=10, env=host_environment())
            except SetupError:
                pass
            finally:
                shutil.rmtree(self._control_dir, ignore_errors=True)
                self._control_dir = None
                self.session_dir = None
                self._uploaded.clear()

    # -- work ----------------------------------------------------------------------------
    def upload(self, path: str, *, interp: Optional[str] = None) -> str:
        """Copy `path` to the session directory (once per content); its remote path.

        With `interp`, the copy is refused when the device lacks that loader.
        """
        digest = sha256_of(Path(path))
        with self._lock:
            if digest in self._uploaded:
                return self._uploaded[digest]
            assert self.session_dir is not None, "open() the device first"
            remote = f"{self.session_dir}/{digest[:24]}/{os.path.basename(path)}"
            with open(path, "rb") as stream:
                data = stream.read()
            outcome = self._run(_UPLOAD, remote, interp or "", stdin=data)
            answer = outcome.stdout.decode(errors="replace").strip()
            if answer == "no-loader":
                raise SetupError(
                    f"{path} needs the loader {interp}, which device {self.address.url} "
                    "does not have: the device's userland is not the target's (glibc vs musl, "
                    "or another architecture); link statically or select the matching target"
                )
            if outcome.returncode != 0 or answer != "ok":
                raise SetupError(
                    f"cannot copy {path} to device {self.address.url}: "
                    f"{_last_line(outcome.stderr) or f'exit status {outcome.returncode}'}"
                )
            self._uploaded[digest] = remote
            return remote

    def run_argv(
        self, remote_program: str, args: Sequence[str], env: Mapping[str, str],
        cwd: Optional[str], run_file: str,
    ) -> list[str]:
        """The ssh argv that runs one program on the device."""
        for name in env:
            if not VARIABLE_NAME.fullmatch(name):
                raise SetupError(f"environment variable name {name!r} cannot be set on a device")
        assignments = [f"{name}={value}" for name, value in env.items()]
        return self.ssh_argv(
            _RUN, run_file, cwd or self.session_dir or "/", str(len(assignments)),
            *assignments, remote_program, *args,
        )

    def new_run_file(self) -> str:
        """A fresh path in the session directory for one run's process-group record."""
        return f"{self.session_dir}/run-{secrets.token_hex(8)}"

    def kill(self, run_file: str) -> None:
        """Kill the process group of the run recorded in `run_file`."""
        self._run(_KILL, run_file, timeout=15)


# -- the devices of this process -------------------------------------------------------------
_DEVICES: dict[DeviceAddress, Device] = {}
_OPEN: list[Device] = []
_REGISTRY_LOCK = threading.Lock()


def device_for(address: DeviceAddress) -> Device:
    """The one Device of this process for `address`."""
    with _REGISTRY_LOCK:
        if address not in _DEVICES:
            _DEVICES[address] = Device(address)
        return _DEVICES[address]


def _register(device: Device) -> None:
    with _REGISTRY_LOCK:
        if device not in _OPEN:
            _OPEN.append(device)
    # Before the containment kills the masters (at session end or exit), while runs work.
    containment.on_close(close_all)


def close_all() -> None:
    """Close every device connection: remove remote session dirs, stop the masters.

    Runs when this process's containment closes (the end of a pytest session, of
    `xarch run`, or the process), before the masters it keeps alive are killed.
    """
    with _REGISTRY_LOCK:
        devices = list(_OPEN)
        _OPEN.clear()
    for device in devices:
        device.close()
