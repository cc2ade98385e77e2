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
from types import ModuleType
from typing import Optional

from .commands._common import EXIT_CANNOT_RUN, EXIT_USAGE, error

# Subcommand -> one-line help; the module `pytest_xarch.commands.<name>` does the work.
COMMANDS = {
    "targets": "list known targets and their readiness",
    "run": "run a target program through the right runner",
    "check": "statically verify ELF files for a target (nothing is executed)",
    "binfmt": "show, install or remove binfmt_misc handlers for targets",
    "canary": "build and run the self-test canary for a target",
    "report": "merge the --xarch-report files of several runs into one confidence matrix",
    "toolchain": "write a CMake toolchain file, Meson cross file, cargo table or exports",
}


def _parser(chosen: Optional[str]) -> argparse.ArgumentParser:
    """The parser; only the chosen command's module is imported (start-up cost)."""
    from .version import __version__

    parser = argparse.ArgumentParser(
        prog="xarch", description="Run and check cross-compiled programs for other targets."
    )
    parser.add_argument("--version", action="version", version=f"xarch {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name, help_text in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text)
        if name == chosen:
            _command_module(name).add_arguments(subparser)
    return parser


def _command_module(name: str) -> ModuleType:
    return importlib.import_module(f"{__package__}.commands.{name}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the console script; returns the exit status."""
    words = list(sys.argv[1:] if argv is None else argv)
    chosen = next((word for word in words if not word.startswith("-")), None)
    args = _parser(chosen).parse_args(words)
    args.own_process = argv is None  # the console script: this process is the command's alone
    from .errors import XarchError

    module = _command_module(args.command)
    if args.command != "run":  # a run's stderr is the program's own
        from .feedback import listen

        listen(lambda line: print(f"xarch: {line}", file=sys.stderr, flush=True))
    try:
        return int(module.main(args))
    except XarchError as problem:
        error(str(problem))
        return EXIT_CANNOT_RUN if args.command == "run" else EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C outside a run (a run forwards it to the program)
        return 130
    except BrokenPipeError:  # `xarch targets | head`: the reader left, nothing is wrong
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
