"""One booted guest: qemu-system with the target's kernel, the host's files and an SSH port.

The guest sees the host's files at their own paths over virtio-9p (read-only),
the library root in front of them (overlayfs, QEMU user-mode's `-L` order), and
the directories runs may write (the temp directory, the current one, `shared`)
writable. It is reached over QEMU's user-mode network (restricted: nothing but
the forwarded SSH port) with a key made for this boot. QEMU daemonizes into this
process's containment, so nothing outlives the session.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import SetupError
from ..files import make_temp_dir, short_temp_dir
from ..process import execute, run_tool
from ..roots import LibraryRoot
from .cpio import CpioWriter
from .image import SystemImage
from .platforms import Platform

GUEST_ADDRESS = "10.0.2.15/24"
GUEST_GATEWAY = "10.0.2.2"
READY_LINE = b"xarch-init: ready"
FAILED_LINE = b"xarch-init: FAILED"
_GUEST_ONLY = frozenset({"proc", "sys", "dev", "run", "xarch", "lost+found"})
_CONSOLE_TAIL = 30  # lines of the console shown with a failure


@dataclass(frozen=True)
class MachineSpec:
    """What to boot: the image, CPU, size, library root and writable host directories."""

    platform: Platform
    image: SystemImage
    cpu: str
    smp: int
    memory_mb: int
    root: Optional[LibraryRoot]
    writable: tuple[str, ...]
    boot_timeout: float
    extra_args: tuple[str, ...] = ()


class Machine:
    """A guest booted from `spec`; `boot()` starts it, `stop()` ends it."""

    def __init__(self, spec: MachineSpec) -> None:
        self.spec = spec
        self.folder: Optional[Path] = None
        self.port: Optional[int] = None
        self.pid: Optional[int] = None
        self.boot_seconds: Optional[float] = None

    @property
    def console_path(self) -> Path:
        assert self.folder is not None
        return self.folder / "console.log"

    @property
    def key_path(self) -> Path:
        """The private key that logs in to the guest's SSH server (as root)."""
        assert self.folder is not None
        return self.folder / "key"

    # -- lifetime ------------------------------------------------------------------------
    def boot(self) -> None:
        """Start the guest and wait until its SSH server is up (SetupError with the
        console's last lines when it does not come up within the boot timeout)."""
        qemu = shutil.which(self.spec.platform.qemu)
        if qemu is None:
            raise SetupError(
                f"{self.spec.platform.qemu} not found, needed for system emulation: "
                f"{self.spec.platform.install_hint}"
            )
        self.folder = make_temp_dir(Path(short_temp_dir()), "xarch-vm-")
        started = time.monotonic()
        try:
            self._make_key()
            initrd = self._initrd()
            for _attempt in range(3):  # a port taken between choosing and binding it
                self.port = _free_port()
                outcome = execute(self._argv(qemu, initrd), timeout=60, persistent=True)
                if outcome.returncode == 0:
                    break
                message = outcome.stderr.decode(errors="replace").strip()
                if "hostfwd" not in message and "forwarding" not in message:
                    raise SetupError(f"{self.spec.platform.qemu} did not start: "
                                     f"{message.splitlines()[-1] if message else 'no message'}")
            else:
                raise SetupError(f"{self.spec.platform.qemu} could not forward a local port")
            self.pid = int((self.folder / "qemu.pid").read_text().strip())
            self._wait_ready(time.monotonic())
        except BaseException:
            self.stop()
            raise
        self.boot_seconds = time.monotonic() - started

    def _wait_ready(self, started: float) -> None:
        """Wait for the init's ready line and the SSH banner, `boot_timeout` seconds from
        QEMU's start."""
        deadline = started + self.spec.boot_timeout
        while time.monotonic() < deadline:
            text = self.console_path.read_bytes() if self.console_path.exists() else b""
            if READY_LINE in text and responsive(self.port, timeout=2.0):
                return
            if FAILED_LINE in text or not self.alive():
                raise SetupError(f"the {self.spec.platform.machine} guest failed to boot:\n"
                                 f"{self.console_tail()}")
            time.sleep(0.05)
        raise SetupError(
            f"the guest did not come up within {self.spec.boot_timeout:g} s (raise "
            f"boot_timeout for the target if the machine is slow); console:\n"
            f"{self.console_tail()}"
        )

    def alive(self) -> bool:
        """Whether QEMU is still running (a kernel panic ends it: -no-reboot)."""
        if self.pid is None:
            return False
        try:
            with open(f"/proc/{self.pid}/stat") as stat:
                return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (OSError, IndexError):
            return False

    def wait_ended(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for QEMU to end by itself; whether it did."""
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def console_tail(self, lines: int = _CONSOLE_TAIL) -> str:
        """The last lines the guest wrote on its console."""
        try:
            text = self.console_path.read_bytes().decode(errors="replace")
        except (OSError, AssertionError):
            return "(no console output)"
        kept = [line.rstrip("\r") for line in text.splitlines() if line.strip()]
        return "\n".join(kept[-lines:]) or "(no console output)"

    def stop(self) -> None:
        """End the guest (if it runs) and remove this boot's files."""
        if self.pid is not None and self.alive():
            try:
                os.kill(self.pid, signal.SIGTERM)
                os.kill(self.pid, signal.SIGCONT)  # a stopped QEMU must run to end
                for _ in range(50):
                    if not self.alive():
                        break
                    time.sleep(0.05)
                else:
                    os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.pid = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    # -- the command line and the per-boot archive -------------------------------------------
    def _argv(self, qemu: str, initrd: Path) -> list[str]:
        spec = self.spec
        assert self.folder is not None
        argv = [
            qemu, "-M", spec.platform.machine, "-cpu", spec.cpu, "-smp", str(spec.smp),
            "-m", str(spec.memory_mb), "-display", "none", "-monitor", "none",
            "-serial", f"file:{self.console_path}", "-no-reboot", "-daemonize",
            "-pidfile", str(self.folder / "qemu.pid"),
            "-kernel", str(spec.image.kernel), "-initrd", str(initrd),
            "-append", f"console={spec.platform.console} panic=-1 rdinit=/init",
            "-fsdev", "local,id=host,path=/,security_model=none,readonly=on",
            "-device", "virtio-9p-pci,fsdev=host,mount_tag=host",
            "-netdev", f"user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:{self.port}-:22",
            "-device", "virtio-net-pci,netdev=net0,romfile=",
        ]
        for index, folder in enumerate(spec.writable):
            argv += ["-fsdev", f"local,id=rw{index},path={folder},security_model=none",
                     "-device", f"virtio-9p-pci,fsdev=rw{index},mount_tag=rw{index}"]
        return [*argv, *spec.extra_args]

    def _make_key(self) -> None:
        assert self.folder is not None
        keygen = shutil.which("ssh-keygen")
        if keygen is None:
            raise SetupError("ssh-keygen not found, needed to log in to the guest: "
                             "apt-get install openssh-client")
        done = run_tool([keygen, "-q", "-t", "ed25519", "-N", "", "-C", "xarch-guest",
                         "-f", str(self.key_path)])
        if done.returncode != 0:
            raise SetupError(f"ssh-keygen failed: {done.stderr.strip()}")

    def _initrd(self) -> Path:
        """The image's archives and this boot's configuration, joined into one file."""
        assert self.folder is not None
        path = self.folder / "initrd"
        with open(path, "wb") as stream:
            for part in self.spec.image.initrds:
                with open(part, "rb") as source:
                    shutil.copyfileobj(source, stream)
            archive = CpioWriter(stream)
            archive.file("xarch/boot.conf", self._boot_config().encode())
            archive.file("xarch/etc/passwd", b"root:x:0:0:root:/xarch/home:/xarch/bin/sh\n")
            archive.file("xarch/etc/group", b"root:x:0:\n")
            archive.file("xarch/etc/shells", b"/xarch/bin/sh\n")
            archive.directory("xarch/home", 0o700)
            archive.directory("xarch/home/.ssh", 0o700)
            key = self.key_path.with_suffix(".pub").read_bytes()
            archive.file("xarch/home/.ssh/authorized_keys", key, 0o600)
            archive.close()
        return path

    def _boot_config(self) -> str:
        dirs, links = [], []
        for entry in sorted(os.listdir("/")):
            if entry in _GUEST_ONLY or not entry.isprintable() or " " in entry:
                continue
            path = os.path.join("/", entry)
            if os.path.islink(path):
                links.append(f"{entry}={os.readlink(path)}")
            elif os.path.isdir(path):
                dirs.append(entry)
        writable = [f"rw{index}={folder}" for index, folder in enumerate(self.spec.writable)]
        return "".join(f"{name}={shlex.quote(' '.join(words))}\n" for name, words in (
            ("HOST_DIRS", dirs), ("HOST_LINKS", links),
            ("LIBRARY_MOUNTS", library_mounts(self.spec.root)), ("WRITABLE", writable),
            ("ADDRESS", [GUEST_ADDRESS]), ("GATEWAY", [GUEST_GATEWAY]),
        ))


def library_mounts(root: Optional[LibraryRoot]) -> list[str]:
    """`place=layer` overlays that put the root's prefix in front of the host's files,
    shallowest place first (each top-level entry of the prefix over the host's path)."""
    if root is None or root.prefix is None:
        return []
    mounts = []
    for entry in sorted(os.listdir(root.prefix)):
        layer = os.path.realpath(os.path.join(root.prefix, entry))
        if not os.path.isdir(layer):
            continue
        mounts.append((os.path.realpath(os.path.join("/", entry)), layer))
    mounts.sort(key=lambda pair: pair[0].count("/"))
    return [f"{place}={layer}" for place, layer in mounts]


def writable_dirs(configured: Sequence[str]) -> tuple[str, ...]:
    """The host directories a guest may write: the temp directory, the current directory
    and `configured`, each once (one inside another is covered by it)."""
    chosen: list[str] = []
    for folder in (tempfile.gettempdir(), os.getcwd(), *configured):
        real = os.path.realpath(os.path.expanduser(folder))
        if not os.path.isdir(real) or real == "/":
            continue
        if any(os.path.commonpath([real, kept]) == kept for kept in chosen):
            continue
        chosen = [kept for kept in chosen if os.path.commonpath([real, kept]) != real]
        chosen.append(real)
    return tuple(chosen)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def responsive(port: Optional[int], timeout: float = 5.0) -> bool:
    """Whether the guest's SSH server answers within `timeout`: it sends its banner first.
    (A frozen QEMU still accepts the connection: its host socket is the kernel's.)"""
    if port is None:
        return False
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
            connection.settimeout(timeout)
            return connection.recv(4).startswith(b"SSH-")
    except OSError:
        return False
