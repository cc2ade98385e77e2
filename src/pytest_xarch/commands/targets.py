"""`xarch targets [--json]`: every known target and what this host has for it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `xarch targets`."""
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def runner_readiness(target: Any, kind: str) -> tuple[Any, str]:
    """(ready, what was found) for runners that depend on the machine: binfmt, ssh and
    system."""
    if kind == "binfmt":
        from .. import binfmt_misc
        from ..runners.binfmt import missing_handler_message

        handler = binfmt_misc.active_handler(target)
        return (True, f"handler {handler.name}") if handler else (
            False, missing_handler_message(target))
    if kind == "ssh":
        from ..runners import ssh

        return ssh.readiness(target)
    if kind == "system":
        from ..runners import system

        return system.readiness(target)
    return None, ""


def target_readiness(target: Any, containment: str = "") -> dict[str, Any]:
    """What this host has for running `target`: runner, emulator, sysroot, compiler."""
    from ..errors import XarchError
    from ..qemu_facts import qemu_cpu_models, qemu_version
    from ..runners import QemuRunner, runner_kind
    from ..toolchain import find_compiler

    emulator = QemuRunner(target)
    qemu_path = emulator.qemu_path
    try:
        root = emulator.root
        sysroot_problem = None
    except XarchError as problem:  # a configured sysroot that is not a directory
        root, sysroot_problem = None, str(problem)
    compilers: dict[str, Any] = {}
    for lang in ("c", "c++"):
        try:
            found = find_compiler(target, lang)
            compilers[lang] = {"kind": found.kind, "command": found.describe(),
                               "argv": list(found.argv)}
        except XarchError:
            compilers[lang] = None
    cpu_known = None if not qemu_path else target.emulation_cpu in qemu_cpu_models(qemu_path)
    from .. import binfmt_misc

    kind = runner_kind(target)
    ready, runner_status = runner_readiness(target, kind)
    handler = binfmt_misc.active_handler(target)
    return {
        "name": target.name,
        "title": target.title,
        "triple": target.triple,
        "libc": target.libc,
        "runner": kind,
        "runner_ready": ready,
        "runner_status": runner_status,
        "binfmt": handler.name if handler else None,
        "cpu": target.emulation_cpu,
        "cpu_known_to_qemu": cpu_known,
        "qemu": qemu_path,
        "qemu_version": qemu_version(qemu_path) if qemu_path else None,
        "sysroot": str(root.tree) if root else None,
        "libraries": _root_facts(root),
        "sysroot_problem": sysroot_problem,
        "containment": containment,
        "compiler": compilers["c"]["command"] if compilers["c"] else None,
        "compilers": compilers,
        "packages": list(target.packages),
    }


def _root_facts(root: Any) -> Optional[dict[str, Any]]:
    if root is None:
        return None
    return {"kind": root.kind, "tree": str(root.tree),
            "prefix": str(root.prefix) if root.prefix else None, "note": root.note}


def _root_cell(facts: Optional[dict[str, Any]]) -> str:
    """`/usr/aarch64-linux-gnu`, `/ (multiarch, +18 libraries of ...)` or `-`."""
    if not facts:
        return "-"
    if facts["kind"] == "sysroot" and not facts["note"]:
        return str(facts["tree"])
    detail = ", ".join(part for part in (facts["kind"], facts["note"]) if part)
    return f"{facts['tree']} ({detail})"


def main(args: argparse.Namespace) -> int:
    """Print the readiness table (or JSON)."""
    from .. import containment
    from ..errors import XarchError
    from ..settings import load_settings

    settings = load_settings()
    try:
        contained = containment.probe(settings.containment)
        mode, how = contained.mode, str(contained)
    except XarchError as problem:
        mode, how = "unavailable", str(problem)
    rows = [target_readiness(settings.resolve(target), mode) for target in settings.registry]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
        return 0
    header = ("target", "runner", "qemu", "cpu", "libraries", "compiler", "binfmt")
    table = [header]
    for row in rows:
        qemu = f"{row['qemu_version']}" if row["qemu"] else "missing"
        cpu = row["cpu"] if row["cpu_known_to_qemu"] is not False else (
            f"{row['cpu']} (NOT IN QEMU {row['qemu_version']})")
        runner = row["runner"]
        if row["runner_ready"] is not None:
            short = row["runner_status"] if row["runner_ready"] else "NOT READY"
            runner = f"{runner} ({short})"
        table.append((
            row["name"], runner, qemu, cpu,
            _root_cell(row["libraries"]), row["compiler"] or "-", row["binfmt"] or "-",
        ))
    widths = [max(len(str(line[i])) for line in table) for i in range(len(header))]
    for line in table:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip())
    print(f"\ncontainment of runs: {how}")
    for row in rows:
        if row["sysroot_problem"]:
            print(f"\n{row['name']}: {row['sysroot_problem']}")
        if row["runner_ready"] is False:
            print(f"\n{row['name']}: {row['runner']} runner not ready: {row['runner_status']}")
    missing = sorted({p for row in rows if not row["compiler"] for p in row["packages"][:1]})
    if missing:
        print(f"\nmissing cross compilers come from: apt-get install {' '.join(missing)}")
    return 0


