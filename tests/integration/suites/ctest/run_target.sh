#!/bin/sh
# A host script that runs a target program through the runner xarch gives it.
set -e
$XARCH_RUNNER "$1" 0
