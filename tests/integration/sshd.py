"""A real OpenSSH server on a loopback port, playing the target device in SSH tests.

`Sshd.start(folder)` generates a host key and a user key, writes an sshd_config
(loopback only, public-key login for the current user, VERBOSE log to a file)
and starts `/usr/sbin/sshd -D` on a free port. `accepted_logins()` counts the
handshakes the server accepted, which is how connection reuse is measured.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pytest_xarch.process import run_tool

from ..support.processes import kill_tree

SSHD = "/usr/sbin/sshd"
PRIVSEP_DIR = "/run/sshd"  # sshd started by root refuses to run without it


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _keygen(path: Path) -> None:
    completed = run_tool(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                         timeout=30)
    if completed.returncode != 0:
        raise RuntimeError(f"ssh-keygen failed: {completed.stderr}")


@dataclass
class Sshd:
    """A running sshd and the credentials that log in to it."""

    folder: Path
    port: int
    user: str
    identity: Path
    log: Path
    process: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        """The runner URL of this device."""
        return f"ssh://{self.user}@127.0.0.1:{self.port}"

    @classmethod
    def start(cls, folder: Path) -> Sshd:
        """Generate keys and config in `folder` and start the server; waits until it listens."""
        folder.mkdir(parents=True, exist_ok=True)
        _keygen(folder / "host_key")
        _keygen(folder / "user_key")
        (folder / "authorized_keys").write_text((folder / "user_key.pub").read_text())
        if os.geteuid() == 0:
            os.makedirs(PRIVSEP_DIR, mode=0o755, exist_ok=True)
        config = folder / "sshd_config"
        config.write_text(
            f"HostKey {folder / 'host_key'}\n"
            f"AuthorizedKeysFile {folder / 'authorized_keys'}\n"
            "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
            "PidFile none\nLogLevel VERBOSE\nMaxSessions 50\nMaxStartups 50\n"
        )
        server = cls(folder=folder, port=free_port(), user=getpass.getuser(),
                     identity=folder / "user_key", log=folder / "sshd.log")
        server.process = subprocess.Popen(
            [SSHD, "-D", "-f", str(config), "-p", str(server.port),
             "-o", "ListenAddress=127.0.0.1", "-E", str(server.log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        server._wait_listening()
        return server

    def _wait_listening(self, limit: float = 15.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited at start:\n{self.log.read_text()}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not listen on port {self.port} within {limit:g}s")

    def accepted_logins(self) -> int:
        """How many logins the server has accepted so far (one per SSH handshake)."""
        return self.log.read_text(errors="replace").count("Accepted publickey")

    def stop(self) -> None:
        """Kill the server and every session it still has."""
        if self.process is not None:
            kill_tree(self.process.pid, own_group=True)
            self.process.wait(timeout=10)
            self.process = None
