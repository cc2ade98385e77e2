#!/usr/bin/env python3
"""The system runner's costs: boot time, and per-run overhead once booted, against user-mode.

    .venv/bin/python benchmarks/bench_system.py [--target aarch64] [--boots 3] [--rounds 20]

With XARCH_BENCH_QUICK=1 it is a smoke run (one boot, one round, nothing written
unless --json is given).

Boot: the target's guest (Debian's kernel, the image cached first) from QEMU's
start to its SSH server's banner, `--boots` times; the image's first fetch is
reported once. Runs: in one booted guest, interleaved round by round in a
shuffled order, the medians of

  user-mode        run() of a dynamic hello under QEMU user-mode (the `qemu` runner)
  system           run() of the same program in the guest (the `system` runner)
  raw ssh          the bare ssh command into the guest over the runner's connection
                   (what the system runner's run costs below its own work)
  compute, user-mode / compute, system
                   a CPU-bound loop (about 0.5 s under user-mode), for the emulators' own speed

and the ratios system / user-mode, system / raw ssh and compute system / user-mode.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, Optional

from bench_run import build_hello
from smoke import QUICK, save_results

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
COMPUTE = r"""
#include <stdio.h>
int main(void) {
    unsigned long x = 1;
    for (unsigned long i = 0; i < 300000000UL; i++) x = x * 6364136223846793005UL + i;
    printf("%lu\n", x & 1);
    return 0;
}
"""


def measure(name: str, boots: int, rounds: int) -> dict[str, object]:
    from pytest_xarch import run
    from pytest_xarch.runners import QemuRunner
    from pytest_xarch.runners.system import SystemRunner
    from pytest_xarch.system.machine import Machine
    from pytest_xarch.targets import resolve_target

    user_target = resolve_target(name)
    target = dataclasses.replace(user_target, runner="system")
    runner = SystemRunner(target)
    start = time.perf_counter()
    image = runner.image()
    first_fetch = time.perf_counter() - start
    boot_times = []
    for _ in range(boots):
        machine = Machine(runner.spec())
        try:
            machine.boot()
            assert machine.boot_seconds is not None
            boot_times.append(machine.boot_seconds)
        finally:
            machine.stop()
    user = QemuRunner(user_target)
    with tempfile.TemporaryDirectory(prefix="xarch-bench-") as scratch:
        folder = Path(scratch)
        hello = str(build_hello(name, folder))
        (folder / "compute.c").write_text(COMPUTE)
        compute = str(folder / "compute")
        subprocess.run([f"{user_target.triple}-gcc", "-O1", "-o", compute,
                        str(folder / "compute.c")], check=True, timeout=300)
        device = runner.connect()
        raw_ssh = device.ssh_argv("exec \"$@\"", hello)

        def check(result: object, expected: str) -> None:
            stdout = getattr(result, "stdout", None)
            if stdout not in (expected, expected.encode()):
                sys.exit(f"bench: expected {expected!r}, got {result}")

        check(run(user_target, [hello], runner=user), "hello\n")
        check(run(target, [hello], runner=runner), "hello\n")
        check(subprocess.run(raw_ssh, capture_output=True, timeout=60), "hello\n")
        variants: dict[str, Callable[[], object]] = {
            "user-mode": lambda: run(user_target, [hello], runner=user),
            "system": lambda: run(target, [hello], runner=runner),
            "raw ssh": lambda: subprocess.run(raw_ssh, capture_output=True, timeout=60),
            "compute, user-mode": lambda: run(user_target, [compute], runner=user),
            "compute, system": lambda: run(target, [compute], runner=runner),
        }
        samples: dict[str, list[float]] = {name: [] for name in variants}
        order = list(variants)
        shuffle = random.Random(3).shuffle
        for _ in range(rounds):
            shuffle(order)
            for name in order:
                began = time.perf_counter()
                variants[name]()
                samples[name].append(time.perf_counter() - began)
        from pytest_xarch.runners.system import stop_all

        stop_all()
    medians = {name: statistics.median(values) for name, values in samples.items()}
    ratios = {
        "system / user-mode": medians["system"] / medians["user-mode"],
        "system / raw ssh": medians["system"] / medians["raw ssh"],
        "compute, system / user-mode": medians["compute, system"] / medians["compute, user-mode"],
    }
    return {
        "engine": runner.engine(), "kernel": image.release, "python": platform.python_version(),
        "cpus": os.cpu_count(), "boots": boots, "rounds": rounds,
        "first_fetch_s": round(first_fetch, 2),
        "boot_s": {"median": round(statistics.median(boot_times), 2),
                   "min": round(min(boot_times), 2), "max": round(max(boot_times), 2)},
        "median_ms": {name: round(value * 1000, 1) for name, value in medians.items()},
        "ratios": {name: round(value, 2) for name, value in ratios.items()},
    }


def report(results: dict[str, object]) -> str:
    medians, ratios, boot = results["median_ms"], results["ratios"], results["boot_s"]
    assert isinstance(medians, dict) and isinstance(ratios, dict) and isinstance(boot, dict)
    lines = [f"{results['engine']}, Python {results['python']}, {results['cpus']} CPUs",
             "", f"image (fetch or cache check): {results['first_fetch_s']} s",
             f"boot to SSH, {results['boots']} boots: median {boot['median']} s "
             f"(min {boot['min']}, max {boot['max']})", "",
             f"| run ({results['rounds']} rounds) | median wall (ms) |", "|---|---|"]
    lines += [f"| {name} | {value:.1f} |" for name, value in medians.items()]
    lines += ["", "| ratio | measured |", "|---|---|"]
    lines += [f"| {name} | {value:.2f}x |" for name, value in ratios.items()]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="aarch64")
    parser.add_argument("--boots", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--json", type=Path,
                        help=f"where to write results ({RESULTS}/bench_system-TARGET.json)")
    args = parser.parse_args(argv)
    if QUICK:
        args.boots, args.rounds = 1, 1
        print("XARCH_BENCH_QUICK=1: a smoke run (1 boot, 1 round); "
              "these figures are not measurements")
    results = measure(args.target, args.boots, args.rounds)
    print(report(results))
    save_results(results, args.json, RESULTS / f"bench_system-{args.target}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
