"""`xarch canary --target T [--json]`: build and run the self-test canary for a target."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `xarch canary`."""
    parser.add_argument("--target", "-t", required=True, help="target name (any accepted spelling)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--timeout", type=float, help="wall-clock seconds per canary program (default 30)"
    )
    parser.add_argument(
        "--cache-dir", help="build cache (default $XDG_CACHE_HOME/pytest-xarch or "
        "~/.cache/pytest-xarch)"
    )


def main(args: argparse.Namespace) -> int:
    """0 when every probe passed, 1 when one failed, 2 on usage errors."""
    import json
    from pathlib import Path

    from ..canary import run_canary
    from ..diskcache import builds_dir
    from ..settings import load_settings
    from ._common import EXIT_USAGE, timeout_is_valid

    if not timeout_is_valid(args.timeout):
        return EXIT_USAGE
    settings = load_settings()
    target = settings.resolve(args.target)
    cache_dir = Path(args.cache_dir) if args.cache_dir else builds_dir()
    result = run_canary(target, cache_dir=cache_dir, timeout=args.timeout)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    elif result.ok:
        print(result.summary())
        for probe in result.probes:
            print(f"  {probe.name:<13} ok    {probe.detail}")
        for note in result.notes:
            print(f"  note: {note}")
    else:
        print(result.explain())
    return 0 if result.ok else 1
