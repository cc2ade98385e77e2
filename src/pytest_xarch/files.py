"""Writing files safely: atomically, never through a planted symlink, with shareable modes.

Temporary files and directories are made by `tempfile` (O_EXCL, random names, so
nothing planted is ever followed) next to their destination and renamed into
place (a rename replaces a symlink, it does not write through it). Their modes
then follow the process's umask, as `open()` would have given them, so that a
cache or report directory shared by a team under a umask of 002 stays shared.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Union


def umask() -> int:
    """This process's umask, read without changing it (Linux: /proc/self/status)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    old = os.umask(0o022)  # elsewhere: the usual dance (briefly process-wide)
    os.umask(old)
    return old


def shared_mode(path: Union[str, Path], *, directory: bool = False) -> None:
    """Give `path` the mode a plain open()/mkdir() would have: 0o666/0o777 minus the umask."""
    with contextlib.suppress(OSError):
        os.chmod(path, (0o777 if directory else 0o666) & ~umask())


@contextlib.contextmanager
def _staged(destination: Path) -> Iterator[tuple[BinaryIO, str]]:
    """A new file next to `destination`, renamed over it when the block succeeds."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            yield stream, partial
        os.replace(partial, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def write_atomic(destination: Path, data: Union[str, bytes]) -> None:
    """Replace `destination` with `data`: readers see the old file or the new one, whole."""
    with _staged(destination) as (stream, partial):
        stream.write(data.encode() if isinstance(data, str) else data)
        shared_mode(partial)


def copy_atomic(source: Path, destination: Path) -> None:
    """Copy `source`'s bytes and permission bits over `destination`, atomically."""
    with _staged(destination) as (out, partial), open(source, "rb") as stream:
        while chunk := stream.read(1 << 20):
            out.write(chunk)
        os.chmod(partial, os.stat(source).st_mode & 0o777)


def append_line(path: Path, line: str) -> None:
    """Append `line` to the log at `path` (created with the umask's mode; no symlink followed)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o666)
    with os.fdopen(fd, "a", encoding="utf-8") as stream:
        stream.write(line)


def short_temp_dir() -> str:
    """A temp directory short enough for unix socket paths below it (108 bytes)."""
    candidate = tempfile.gettempdir()
    return candidate if len(candidate) < 60 else "/tmp"


def make_temp_dir(parent: Path, prefix: str) -> Path:
    """A fresh directory in `parent` (O_EXCL-made, random name), with the umask's mode."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    shared_mode(folder, directory=True)
    return folder


def sha256_of(path: Path) -> str:
    """The hex SHA-256 of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
