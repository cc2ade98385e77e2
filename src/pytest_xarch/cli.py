"""The `xarch` command: a dispatcher over the modules in `pytest_xarch.commands`.

`xarch run --target T -- PROG ARGS` exits with PROG's status (128+N when it is
killed by signal N, 124 when it times out, 127 when it cannot be started), so it
can stand in for CMake's CROSSCOMPILING_EMULATOR, cargo's runner and
`go test -exec`. Other commands exit 0 on success, 1 on findings, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Optional

from .commands._common import EXIT_CANNOT_RUN, EXIT_USAGE, error

# Subcommand name -> module in pytest_xarch.commands. Add a line to add a command.
COMMANDS = {
    "targets": "targets",
    "run": "run",
    "check": "check",
    "binfmt": "binfmt",
    "canary": "canary",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xarch", description="Run and check cross-compiled programs for other targets."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"{__package__}.commands.{module_name}")
        module.add_arguments(subparsers.add_parser(name, help=module.HELP))
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = _parser().parse_args(argv)
    from .errors import XarchError

    module = importlib.import_module(f"{__package__}.commands.{COMMANDS[args.command]}")
    try:
        return int(module.main(args))
    except XarchError as problem:
        error(str(problem))
        return EXIT_CANNOT_RUN if args.command == "run" else EXIT_USAGE
    except BrokenPipeError:  # `xarch targets | head`: the reader left, nothing is wrong
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
