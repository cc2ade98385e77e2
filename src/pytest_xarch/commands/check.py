"""`xarch check --target T FILE... [--json]`: static verification, nothing is run.

Exit 0 when no file has an error finding, 1 when any has, 2 on usage errors.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable


def _target_setting(key: str, convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type accepting what `key` accepts in a [target.<name>] table."""

    def parse(text: str) -> Any:
        from ..settings import TARGET_KEYS

        valid, expected = TARGET_KEYS[key]
        try:
            value = convert(text)
        except ValueError:
            value = None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `xarch check`."""
    parser.add_argument("--target", "-t", required=True, help="target name (any accepted spelling)")
    parser.add_argument("--sysroot", help="target root filesystem to resolve loader and libraries")
    parser.add_argument("--glibc", type=_target_setting("glibc", str),
                        help="glibc floor X.Y (default: the sysroot's)")
    parser.add_argument("--page-size", type=_target_setting("page_size", lambda text: int(text, 0)),
                        help="the target kernel's page size")
    parser.add_argument("--recursive", "-r", action="store_true",
                        help="check every ELF file under the given directories")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="ELF files (or directories with --recursive)")


def _expand(files: list[str], recursive: bool) -> list[str]:
    """Named files as given; directories (with --recursive) as their ELF files."""
    import os
    from pathlib import Path

    from ..elf import iter_elf_files
    from ..errors import SetupError

    paths: list[str] = []
    for name in files:
        if os.path.isdir(name):
            if not recursive:
                raise SetupError(f"{name}: is a directory: use --recursive to check the ELF "
                                 "files under it")
            paths += [str(p) for p in iter_elf_files(Path(name))]
        elif not os.path.exists(name):
            raise SetupError(f"{name}: no such file")
        else:
            paths.append(name)
    return paths


def main(args: argparse.Namespace) -> int:
    """Check every file; print one line per finding (or JSON)."""
    import json
    import os
    import sys

    from ..checks import ERROR, check_file, format_finding
    from ..settings import load_settings
    from ..sysroot import find_sysroot

    settings = load_settings()
    target = settings.resolve(args.target)
    if args.sysroot is not None and not os.path.isdir(args.sysroot):
        from ..errors import SetupError

        raise SetupError(f"--sysroot {args.sysroot}: not a directory")
    paths = _expand(list(args.files), args.recursive)
    sysroot = args.sysroot or find_sysroot(target)
    report = []
    errors = warnings = 0
    for path in paths:
        findings = check_file(path, target, sysroot=sysroot, glibc=args.glibc,
                              page_size=args.page_size)
        errors += sum(f.severity == ERROR for f in findings)
        warnings += sum(f.severity != ERROR for f in findings)
        report.append({"path": path, "ok": not any(f.severity == ERROR for f in findings),
                       "findings": [f.to_dict() for f in findings]})
        if not args.json:
            for finding in findings:
                print(format_finding(finding))
            if not findings:
                print(f"{path}: ok")
    if args.json:
        json.dump({
            "target": target.name,
            "sysroot": str(sysroot) if sysroot else None,
            "glibc": args.glibc or target.glibc,
            "page_size": args.page_size or target.page_size,
            "files": report,
            "errors": errors,
            "warnings": warnings,
        }, sys.stdout, indent=2)
        print()
    else:
        print(f"{len(paths)} file(s) checked for target '{target.name}': "
              f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return 1 if errors else 0
