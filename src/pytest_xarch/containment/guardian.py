"""The guardian: a small `sh` loop that cleans up after its owner, however the owner ends.

It reads its stdin, a pipe only its owner holds open, until end-of-file: the owner
closed it (a normal end) or died (SIGKILL included). Then it kills what is left
of its owner's runs and removes the owner's scratch directory. It runs in a
session of its own and ignores the signals a terminal or a CI runner sends a
whole process group, so it outlives whoever it guards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional

from .procs import TAG_VARIABLE

# $1 session cgroup or "", $2 tag prefix or "", $3 scratch directory, $4 the owner's pid.
# A line "done" first means the owner cleaned up itself. Otherwise the owner is waited
# for until it has exited (a process still exiting would be killed with the rest).
_SCRIPT = r"""
trap '' INT TERM HUP QUIT PIPE
while read -r line; do [ "$line" = done ] && exit 0; done
cg=$1 tag=$2 scratch=$3 owner=$4
n=0
while [ $n -lt 200 ] && [ -e "/proc/$owner" ] \
      && ! grep -q '^State:[[:space:]]*[ZX]' "/proc/$owner/status" 2>/dev/null; do
    sleep 0.05; n=$((n + 1))
done
if [ -n "$cg" ] && [ -d "$cg" ]; then
    [ -e "$cg/cgroup.kill" ] && echo 1 > "$cg/cgroup.kill" 2>/dev/null
    n=0
    while [ $n -lt 100 ] && ! grep -qx 'populated 0' "$cg/cgroup.events" 2>/dev/null; do
        for procs in $(find "$cg" -name cgroup.procs 2>/dev/null); do
            for pid in $(cat "$procs" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
        done
        sleep 0.05; n=$((n + 1))
    done
    find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
fi
if [ -n "$tag" ]; then
    n=0
    while [ $n -lt 20 ]; do
        pids=$(grep -lszE "^VARIABLE=([^:]*:)*$tag/" /proc/[0-9]*/environ 2>/dev/null \
               | sed 's#^/proc/\([0-9]*\)/environ$#\1#')
        [ -z "$pids" ] && break
        kill -9 $pids 2>/dev/null; sleep 0.05; n=$((n + 1))
    done
fi
[ -n "$scratch" ] && rm -rf "$scratch"
exit 0
""".replace("VARIABLE", TAG_VARIABLE)


class Guardian:
    """A running guardian for a session cgroup and/or a tag prefix and a scratch directory."""

    def __init__(self, cgroup: Optional[Path], tag: str, scratch: Path) -> None:
        shell = shutil.which("sh") or "/bin/sh"
        self.process: Optional[subprocess.Popen[bytes]]
        try:
            self.process = subprocess.Popen(
                [shell, "-c", _SCRIPT, "xarch-guardian", str(cgroup or ""), tag, str(scratch),
                 str(os.getpid())],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True, cwd="/",
            )
        except OSError:
            self.process = None

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process is not None else None

    def release(self) -> None:
        """Our end is normal and we cleaned up: tell it so, and let it exit."""
        if self.process is None or self.process.stdin is None:
            return
        with contextlib.suppress(OSError):
            self.process.stdin.write(b"done\n")
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        self.process.wait()  # it exits at once; a blocking wait, not a sleep-polled one
