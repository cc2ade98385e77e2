"""The SSH runner: target programs run on a real device, which gives `hardware` fidelity.

A target's ``runner = "ssh://user@host:port"`` names the device. The system
`ssh` is used with BatchMode and one ControlMaster connection per device per
process, so a run costs one round trip, not a handshake. Before first use the
device's architecture (`uname -m`) is checked against the target. Programs are
copied into a per-session remote directory under their sha256, so repeated runs
do not copy again; the directory is removed by `close_all()` when the containment closes.

Each run is a POSIX `sh` wrapper on the device that records its process group,
exports the environment, changes directory and runs the program with its
arguments passed as positional parameters, each quoted for the remote shell, so
they arrive verbatim and never execute. On timeout the remote process group is
killed through a second connection. The OpenSSH client does not report a remote
signal death, so the wrapper's shell status 128+N is mapped back to signal N
(a program that exits with 128+N on purpose reads as killed by signal N).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shlex
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional
from urllib.parse import unquote, urlsplit

from .. import containment
from ..elf import read_interp
from ..errors import SetupError
from ..fidelity import Fidelity
from ..process import ProcessOutcome, execute
from ..targets import Target, machine_runs
from .base import HostCommand, Runner, RunResult, host_environment

# Seconds the local ssh client may outlive the remote watchdog before it is killed.
_BACKSTOP = 30.0

CONNECT_TIMEOUT = 5  # seconds for the TCP connect and handshake
CONTROL_PERSIST = 300  # an orphaned master (we were SIGKILLed) exits after this idle time
_COMMAND_TIMEOUT = 60.0  # housekeeping commands (probe, upload, kill, cleanup)
KNOWN_HOSTS_POLICIES = ("strict", "accept-new", "off")

# The probe: machine, a fresh session directory, and whether the target's loader exists.
_PROBE = r"""
uname -m
base=${1:-${TMPDIR:-/tmp}}
mkdir -p "$base" && mktemp -d "$base/xarch.XXXXXXXX" || exit 3
if [ -e "$2" ]; then echo loader; else echo no-loader; fi
"""
# Upload: stdin -> $1 (atomically), if its loader $2 exists; prints `ok` or `no-loader`.
_UPLOAD = r"""
if [ -n "$2" ] && [ ! -e "$2" ]; then echo no-loader; exit 0; fi
mkdir -p "${1%/*}" && cat > "$1.part" && chmod 755 "$1.part" && mv -f "$1.part" "$1" && echo ok
"""
# One run: $1 run file, $2 cwd ("" for the session dir), $3 number of NAME=VALUE, then program
# and arguments. The run file holds the process group and session to kill on timeout.
_RUN = r"""
f=$1; d=$2; n=$3; shift 3
if read -r _ _ _ _ pg sid _ < /proc/$$/stat 2>/dev/null; then echo "$pg $sid" > "$f"
else echo "$$ $$" > "$f"; fi
while [ "$n" -gt 0 ]; do export "$1"; shift; n=$((n - 1)); done
if ! cd "$d" 2>/dev/null; then
  echo "xarch: working directory $d does not exist on the device" >&2; rm -f "$f"; exit 127
fi
"$@"
s=$?
rm -f "$f"
exit $s
"""
_KILL = r"""
if read -r pg sid < "$1" 2>/dev/null; then
  kill -KILL -"$pg" 2>/dev/null
  pkill -KILL -s "$sid" 2>/dev/null
fi
rm -f "$1"
"""
# Session end: kill runs still in flight, remove the session directory.
_CLEANUP = r"""
case "$1" in */xarch.*) ;; *) exit 2;; esac
for f in "$1"/run-*; do
  if [ -f "$f" ] && read -r pg sid < "$f"; then kill -KILL -"$pg" 2>/dev/null; fi
done
rm -rf "$1"
"""
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class DeviceAddress:
    """Where a device is and how to log in: parsed from ``ssh://user@host:port``."""

    host: str
    user: Optional[str] = None
    port: Optional[int] = None
    identity: Optional[str] = None
    known_hosts: str = "accept-new"
    workdir: Optional[str] = None
    options: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        """The device as a URL, for messages and reports."""
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port else ""
        return f"ssh://{user}{host}{port}"


def parse_device(target: Target) -> DeviceAddress:
    """The device a target's `runner = "ssh://..."` and `ssh_*` settings name."""
    url = target.runner or ""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme != "ssh" or not parts.hostname or port == -1 or parts.path not in ("", "/"):
        raise SetupError(
            f"target '{target.name}': runner {url!r} is not an SSH device URL: "
            "expected ssh://[user@]host[:port], e.g. ssh://pi@192.168.1.20:22"
        )
    known_hosts = target.ssh_known_hosts or "accept-new"
    if known_hosts not in KNOWN_HOSTS_POLICIES and not os.path.isfile(
        os.path.expanduser(known_hosts)
    ):
        raise SetupError(
            f"target '{target.name}': ssh_known_hosts = {known_hosts!r} is neither one of "
            f"{', '.join(KNOWN_HOSTS_POLICIES)} nor an existing known_hosts file"
        )
    identity = os.path.expanduser(target.ssh_identity) if target.ssh_identity else None
    if identity and not os.path.isfile(identity):
        raise SetupError(
            f"target '{target.name}': ssh_identity {target.ssh_identity} does not exist: "
            "point it at the private key that logs in to the device"
        )
    return DeviceAddress(
        host=parts.hostname,
        user=unquote(parts.username) if parts.username else None,
        port=port,
        identity=identity,
        known_hosts=known_hosts,
        workdir=target.ssh_workdir,
        options=tuple(target.ssh_options),
    )


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
            self._control_dir = tempfile.mkdtemp(prefix="xarch-ssh-", dir=_short_tmp())
            _register(self)
            try:
                self._start_master()
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
        digest = _sha256(path)
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
            if not _VARIABLE_NAME.fullmatch(name):
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


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _short_tmp() -> str:
    """A temp directory short enough for a unix socket path (108 bytes)."""
    candidate = tempfile.gettempdir()
    return candidate if len(candidate) < 60 else "/tmp"


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


class SshRunner(Runner):
    """Runs target programs on a real device over SSH: `hardware` fidelity."""

    kind = "ssh"
    fidelity = Fidelity.HARDWARE

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.address = parse_device(target)
        self.device = device_for(self.address)
        self._runs: dict[str, _RemoteRun] = {}  # scratch dir -> the run in flight

    def describe(self) -> str:
        machine = f" ({self.device.machine})" if self.device.machine else ""
        return f"{self.address.url}{machine}"

    def prefix(self) -> list[str]:
        """Nothing: on the device, target programs run directly."""
        return []

    def connect(self) -> Device:
        """Open the connection and verify the device (SetupError when it cannot serve)."""
        self.device.open(self.target)
        return self.device

    def prepare(self, program: str) -> None:
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
        self, program: str, args: Sequence[str], env: Mapping[str, str], scratch: str,
        *, cwd: Optional[str] = None, timeout: Optional[float] = None,
    ) -> HostCommand:
        """ssh argv for the run; `env` reaches the device minus what the host already had.

        With `timeout`, a watchdog kills the remote process group when it expires
        (the ssh client cannot: the master connection holds its pipes).
        """
        remote_program = self.upload(program)
        host = host_environment()
        device_env = {name: value for name, value in env.items() if host.get(name) != value}
        run = _RemoteRun(self.device, self.device.new_run_file())
        self._runs[scratch] = run
        if timeout:
            run.arm(timeout)
        argv = self.device.run_argv(remote_program, args, device_env, cwd, run.run_file)
        # `cwd` is on the device; the local limit is only a backstop behind the watchdog.
        return HostCommand(argv, host, None, timeout + _BACKSTOP if timeout else None)

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


class _RemoteRun:
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
