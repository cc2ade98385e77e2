"""`xarch report REPORT.json ... [--html PAGE] [--json OUT]`: merge the --xarch-report files
of several runs (CI jobs) into one confidence matrix."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `xarch report`."""
    parser.add_argument("reports", nargs="+", metavar="REPORT",
                        help="JSON files written by pytest --xarch-report=PATH")
    parser.add_argument("--html", metavar="PAGE",
                        help="also write one self-contained HTML page here")
    parser.add_argument("--json", metavar="OUT", help="also write the merged verdicts as JSON")


def main(args: argparse.Namespace) -> int:
    """0 when no test failed in any report, 1 when one did, 2 on unreadable reports."""
    import json
    from pathlib import Path

    from ..files import write_atomic
    from ..merging import FAILING, html_page, merge, text_table

    merged = merge([Path(report) for report in args.reports])
    print(text_table(merged))
    if args.html:
        write_atomic(Path(args.html), html_page(merged))
    if args.json:
        write_atomic(Path(args.json), json.dumps(merged.as_json(), indent=2) + "\n")
    return 1 if any(verdict.status == FAILING for verdict in merged.verdicts) else 0
