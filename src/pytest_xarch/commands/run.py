"""`xarch run --target T -- PROG ARGS`: run a target program, exit with its status."""

from __future__ import annotations

import argparse
import os
import sys

from ._common import EXIT_TIMEOUT, EXIT_USAGE, error, timeout_is_valid


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `xarch run`."""
    parser.usage = (
        "xarch run --target T [--cpu C] [--sysroot S] [--timeout SEC] [--no-check] "
        "[--pass-library-path] -- PROG [ARGS...]"
    )
    parser.add_argument("--target", "-t", required=True, help="target name (any accepted spelling)")
    parser.add_argument("--cpu", help="QEMU CPU model (default: the target's baseline)")
    parser.add_argument("--sysroot", help="target root filesystem for dynamic binaries")
    parser.add_argument(
        "--timeout", type=float, help="wall-clock seconds before the run is killed"
    )
    parser.add_argument("--no-check", action="store_true",
                        help="run without the static check first (check_before_run = false)")
    parser.add_argument("--pass-library-path", action="store_true",
                        help="give the program this environment's LD_LIBRARY_PATH (which "
                        "libtool --mode=execute sets to the build tree's libraries); by "
                        "default no host loader variable reaches a guest")
    parser.add_argument("program", nargs=argparse.REMAINDER, help="-- PROG [ARGS...]")


def main(args: argparse.Namespace) -> int:
    """Run the program; PROG's exit status, 128+N for signal N, 124 on timeout."""
    from .. import containment
    from ..runners import RunResult, run
    from ..settings import load_settings
    from ..verdicts import precheck

    program = list(args.program)
    if program and program[0] == "--":
        program = program[1:]
    if not program:
        error("nothing to run: xarch run --target T -- PROG [ARGS...]")
        return EXIT_USAGE
    if not timeout_is_valid(args.timeout):
        return EXIT_USAGE
    settings = load_settings()
    target = settings.resolve(args.target)
    library_path = os.environ.get("LD_LIBRARY_PATH") if args.pass_library_path else None
    env = {"LD_LIBRARY_PATH": library_path} if library_path else None

    def launch() -> RunResult:
        return run(target, program, cpu=args.cpu, sysroot=args.sysroot, timeout=args.timeout,
                   capture=False, emulation_factor=settings.emulation_factor, env=env,
                   precheck=precheck if settings.check_before_run and not args.no_check
                   else None)

    if getattr(args, "own_process", False):
        # Nothing else runs in this process: a subreaper, every orphan comes back to it.
        containment.configure(settings.containment, owns_children=True)
        try:
            result = launch()
        finally:
            containment.close()
    else:  # called in-process (tests, embedders): a containment of its own, the caller's kept
        with containment.scoped(settings.containment):
            result = launch()
    if result.unimplemented:
        print(f"xarch: QEMU does not implement:\n{result.unimplemented}", file=sys.stderr)
    if result.timed_out:
        error(f"{program[0]} timed out after {result.timeout:g}s and was killed")
        return EXIT_TIMEOUT
    return int(result.exit_status)
