"""`xarch check --target T FILE... [--json]`: static verification, nothing is run.

Exit 0 when no file has an error finding, 1 when any has, 2 on usage errors and when
a named file cannot be checked (the others still are).
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

from ._common import EXIT_USAGE, error


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
                        help="glibc floor X.Y (default: the glibc the loader will load)")
    parser.add_argument("--page-size", type=_target_setting("page_size", lambda text: int(text, 0)),
                        help="the target kernel's page size")
    parser.add_argument("--recursive", "-r", action="store_true",
                        help="check every ELF file under the given directories")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("files", nargs="+", metavar="FILE",
                        help="ELF files (or directories with --recursive)")


def _expand(files: list[str], recursive: bool) -> tuple[list[str], list[str]]:
    """(files to check, problems): named files as given, directories (with --recursive) as
    their ELF files; a name that cannot be checked is a problem, the others still are."""
    import os
    from pathlib import Path

    from ..elf import iter_elf_files

    paths: list[str] = []
    problems: list[str] = []
    for name in files:
        if os.path.isdir(name):
            if recursive:
                paths += [str(p) for p in iter_elf_files(Path(name))]
            else:
                problems.append(f"{name}: is a directory: use --recursive to check the ELF "
                                "files under it")
        elif not os.path.exists(name):
            problems.append(f"{name}: no such file")
        else:
            paths.append(name)
    return paths, problems


def main(args: argparse.Namespace) -> int:
    """Check every file; print one line per finding (or JSON)."""
    import json
    import sys

    from ..checks import ERROR, check_file, format_finding
    from ..errors import SetupError
    from ..roots import choose_root
    from ..settings import load_settings

    settings = load_settings()
    target = settings.resolve(args.target)
    root = choose_root(target, args.sysroot)
    paths, problems = _expand(list(args.files), args.recursive)
    report = []
    errors = warnings = 0
    for path in paths:
        try:
            findings = check_file(path, target, root=root, glibc=args.glibc,
                                  page_size=args.page_size)
        except SetupError as unreadable:  # named, and the others are still checked
            problems.append(str(unreadable))
            continue
        errors += sum(f.severity == ERROR for f in findings)
        warnings += sum(f.severity == "warning" for f in findings)
        report.append({"path": path, "ok": not any(f.severity == ERROR for f in findings),
                       "findings": [f.to_dict() for f in findings]})
        if not args.json:
            for finding in findings:
                print(format_finding(finding))
            if not findings:
                print(f"{path}: ok")
    for text in problems:
        error(text)
    if args.json:
        json.dump({
            "target": target.name,
            "sysroot": str(root.tree) if root else None,
            "libraries": root.describe() if root else None,
            "glibc": args.glibc or target.glibc,
            "page_size": args.page_size or target.page_size,
            "files": report,
            "unreadable": problems,
            "errors": errors,
            "warnings": warnings,
        }, sys.stdout, indent=2)
        print()
    else:
        where = f"; {root.describe()}" if root else ""
        unread = f", {len(problems)} not checked" if problems else ""
        print(f"{len(report)} file(s) checked for target '{target.name}': "
              f"{errors} error(s), {warnings} warning(s){unread}{where}", file=sys.stderr)
    return EXIT_USAGE if problems else 1 if errors else 0
