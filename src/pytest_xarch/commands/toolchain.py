"""`xarch toolchain --target T --format cmake|meson|cargo|go|env`: the file a build system
needs for the target (toolchain file, cross file, cargo table, exports), on stdout."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `xarch toolchain`."""
    from ..toolchain.files import FORMATS

    parser.add_argument("--target", "-t", required=True, help="target name (any accepted spelling)")
    parser.add_argument("--format", "-f", required=True, choices=FORMATS,
                        help="cmake: a toolchain file; meson: a cross file; cargo: a "
                        "[target.<triple>] table; go: GOOS/GOARCH/CC exports; env: exports "
                        "for ./configure --host and make check; emulator: a shell script that "
                        "runs target programs like `xarch run` without starting Python")
    parser.add_argument("--output", "-o", help="write the file here instead of stdout")
    parser.add_argument("--emulator", metavar="COMMAND",
                        help="the command the file runs target programs with (default: "
                        "xarch run --target T --), e.g. a script written by --format emulator")


def main(args: argparse.Namespace) -> int:
    """0, with the file written; 127 (an XarchError) when the target lacks a compiler."""
    import shlex
    from pathlib import Path

    from ..files import write_atomic
    from ..settings import load_settings
    from ..toolchain.files import gather, render

    settings = load_settings()
    target = settings.resolve(args.target)
    emulator = shlex.split(args.emulator) if args.emulator else None
    facts = gather(target, emulator, emulation_factor=settings.emulation_factor)
    text = render(facts, args.format)
    if args.output:
        write_atomic(Path(args.output), text)
        if args.format == "emulator":
            Path(args.output).chmod(0o755)
    else:
        print(text, end="")
    return 0
