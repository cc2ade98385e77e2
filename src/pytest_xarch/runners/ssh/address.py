"""Where a device is and how to log in to it: the ssh:// runner URL and the ssh_* settings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional
from urllib.parse import unquote, urlsplit

from ...errors import SetupError
from ...targets import Target

KNOWN_HOSTS_POLICIES = ("strict", "accept-new", "off")


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
