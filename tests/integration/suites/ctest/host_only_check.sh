#!/bin/sh
# A host script given a target program that it does not run (it only checks it exists).
test -f "$1"
