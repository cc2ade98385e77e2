"""The POSIX sh scripts the SSH runner runs on a device (each gets its arguments as $1...)."""

from __future__ import annotations

import re

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
VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
