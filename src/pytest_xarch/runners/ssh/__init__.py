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

from .address import KNOWN_HOSTS_POLICIES, DeviceAddress, parse_device
from .device import CONNECT_TIMEOUT, CONTROL_PERSIST, Device, close_all, device_for
from .runner import SshRunner, readiness

__all__ = [
    "CONNECT_TIMEOUT", "CONTROL_PERSIST", "KNOWN_HOSTS_POLICIES", "Device", "DeviceAddress",
    "SshRunner", "close_all", "device_for", "parse_device", "readiness",
]
