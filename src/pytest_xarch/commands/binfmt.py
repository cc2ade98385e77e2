"""`xarch binfmt status|install|remove [--target T] [--force] [--json]`: kernel handlers.

status   every handler that catches a target's executables (matched by magic and
         mask, whatever its name), with interpreter and flags. Exit 1 when a
         --target was given and no enabled handler catches it.
install  register our handler (``xarch-<arch>``), mounting binfmt_misc if needed.
         An existing handler for the same magic is reported, not duplicated,
         unless --force. Root only.
remove   unregister our handlers (those of --target, or all of ours); never others'.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._common import EXIT_USAGE

EXIT_MISSING = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `xarch binfmt`."""
    parser.add_argument("action", choices=("status", "install", "remove"))
    parser.add_argument(
        "--target", "-t", action="append", default=[],
        help="target name (repeatable; default: the configured targets, else every target "
             "this host cannot run natively)",
    )
    parser.add_argument("--force", action="store_true",
                        help="install: register ours even when another handler exists")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _targets(args: argparse.Namespace, settings: Any) -> list[Any]:
    from ..targets import kernel_runs_natively

    names = args.target or settings.targets
    if names:
        chosen = [settings.resolve(name) for name in names]
    else:
        chosen = [t for t in settings.registry if not kernel_runs_natively(t)]
    unique: dict[str, Any] = {}
    for target in chosen:
        unique.setdefault(target.name, target)
    return list(unique.values())


def _status(args: argparse.Namespace, targets: list[Any]) -> int:
    from .. import binfmt_misc

    is_mounted = binfmt_misc.mounted()
    rows = []
    for target in targets:
        found = binfmt_misc.handlers_for(target) if is_mounted else []
        rows.append({"target": target.name, "handlers": [h.as_dict() for h in found],
                     "active": any(h.enabled for h in found)})
    state = {
        "path": str(binfmt_misc.BINFMT_DIR), "mounted": is_mounted,
        "enabled": binfmt_misc.enabled() if is_mounted else False, "targets": rows,
    }
    if args.json:
        json.dump(state, sys.stdout, indent=2)
        print()
    else:
        where = f"binfmt_misc at {state['path']}"
        print(f"{where}: {'enabled' if state['enabled'] else 'disabled'}" if is_mounted
              else f"{where}: not mounted (`xarch binfmt install` mounts it)")
        width = max((len(row["target"]) for row in rows), default=6)
        for row in rows:
            if not row["handlers"]:
                print(f"{row['target']:<{width}}  no handler "
                      f"(sudo xarch binfmt install --target {row['target']})")
            for handler in row["handlers"]:
                owner = "ours" if handler["ours"] else "foreign"
                enabled = "" if handler["enabled"] else ", disabled"
                print(f"{row['target']:<{width}}  {handler['name']}  {handler['interpreter']}  "
                      f"flags {handler['flags'] or '-'}  ({owner}{enabled})")
    if args.target and not all(row["active"] for row in rows):
        return EXIT_MISSING
    return 0


def _install(args: argparse.Namespace, targets: list[Any]) -> int:
    from .. import binfmt_misc

    outcomes = []
    done: dict[str, binfmt_misc.InstallOutcome] = {}
    for target in targets:
        # Targets sharing a QEMU (armv7, armel) share one handler.
        key = target.qemu
        outcome = done.get(key) or binfmt_misc.install(target, force=args.force)
        if key in done:
            outcome = binfmt_misc.InstallOutcome(target.name, "present", outcome.handler,
                                                 f"shares the {key} handler")
        done[key] = outcome
        outcomes.append(outcome)
    if args.json:
        json.dump([{"target": o.target, "action": o.action, "note": o.note,
                    "handler": o.handler.as_dict() if o.handler else None} for o in outcomes],
                  sys.stdout, indent=2)
        print()
        return 0
    for o in outcomes:
        handler = (f"{o.handler.name} -> {o.handler.interpreter} (flags {o.handler.flags or '-'})"
                   if o.handler else "")
        print(f"{o.target}: {o.action} {handler}".rstrip() + (f"; {o.note}" if o.note else ""))
    return 0


def _remove(args: argparse.Namespace, targets: list[Any]) -> int:
    from .. import binfmt_misc

    removed = binfmt_misc.remove(targets if args.target else None)
    if args.json:
        json.dump({"removed": removed}, sys.stdout, indent=2)
        print()
    elif removed:
        print("removed " + ", ".join(removed))
    else:
        print("no xarch handlers to remove (handlers registered by others are left alone)")
    return 0


def main(args: argparse.Namespace) -> int:
    """Dispatch to status, install or remove."""
    from ..settings import load_settings

    if args.force and args.action != "install":
        print("xarch: error: --force only applies to install", file=sys.stderr)
        return EXIT_USAGE
    settings = load_settings()
    targets = _targets(args, settings)
    action = {"status": _status, "install": _install, "remove": _remove}[args.action]
    return action(args, targets)
