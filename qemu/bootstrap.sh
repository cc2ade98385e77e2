#!/bin/sh
# Make sure python3 (and its venv module) exists, then run qemu/provision.py with our arguments.
# A fresh Debian/Ubuntu image may have no python3 at all; everything else is provision.py's job.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "bootstrap: error: python3 with venv is missing and this is not a Debian/Ubuntu system (no apt-get): install python3 and its venv module, then run make again" >&2
        exit 1
    fi
    if [ "$(id -u)" -eq 0 ]; then
        sudo=""
    elif command -v sudo >/dev/null 2>&1; then
        sudo="sudo"
    else
        echo "bootstrap: error: python3-venv is missing, this is not root and sudo is not installed: run 'apt-get install python3 python3-venv' as root, then run make again" >&2
        exit 1
    fi
    echo "bootstrap: installing python3 and python3-venv"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -q update
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -q install -y --no-install-recommends python3 python3-venv
fi
exec python3 "$here/provision.py" "$@"
