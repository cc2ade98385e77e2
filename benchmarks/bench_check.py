#!/usr/bin/env python3
"""Cost of static verification against binutils' readelf on the same file, in one run.

    .venv/bin/python benchmarks/bench_check.py [--rounds 30] [--file PATH] [--json PATH]

On a large library (default: libstdc++ of the aarch64 cross sysroot) it
measures, interleaved round by round in a shuffled order:

  readelf         readelf -W -h -l -d -V FILE (a process, output captured)
  read_facts      pytest_xarch.elf.read_facts(FILE), caches cleared first
  check cold      pytest_xarch.checks.check_file(FILE, target), every cache cleared
                  (facts of the file and of each library it loads, ld.so.cache, glibc banners)
  check cached    check_file again on the unchanged file (what a repeated run pays)
  xarch check     the `xarch check` command as a process (interpreter start-up included)

and reports medians and the ratios to readelf (goal: check cold <= 3x readelf).
Timing lives here, never in the tests. With XARCH_BENCH_QUICK=1 it is a smoke
run (one round, no verdict on the goal, results not written unless --json is
given): it shows that the benchmark works, not how fast.
"""

from __future__ import annotations

import argparse
import platform
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from smoke import QUICK, save_results

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_FILE = "/usr/aarch64-linux-gnu/lib/libstdc++.so.6"
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "bench_check.json"
GOAL = 3.0


def clear_caches() -> None:
    from pytest_xarch import elf, loader

    elf.clear_cache()
    loader.clear_caches()


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--file", default=DEFAULT_FILE)
    parser.add_argument("--target", default="aarch64")
    parser.add_argument("--json", type=Path, help=f"where to write results ({DEFAULT_JSON})")
    args = parser.parse_args()
    if QUICK:
        args.rounds = 1
        print("XARCH_BENCH_QUICK=1: a smoke run (1 round); these figures are not measurements")

    from pytest_xarch import check as check_file  # names resolved through the settings
    from pytest_xarch.checks import errors
    from pytest_xarch.elf import read_facts

    readelf = shutil.which("readelf")
    xarch = shutil.which("xarch") or str(Path(sys.executable).parent / "xarch")
    if readelf is None or not Path(args.file).is_file():
        sys.exit("bench: needs readelf (binutils) and the file (libc6-dev-arm64-cross)")
    path = args.file

    def run_readelf() -> None:
        subprocess.run([readelf, "-W", "-h", "-l", "-d", "-V", path], capture_output=True,
                       check=True, timeout=60)

    def cold_facts() -> None:
        clear_caches()
        read_facts(path)

    def cold_check() -> None:
        clear_caches()
        assert not errors(check_file(path, args.target))

    def cached_check() -> None:
        check_file(path, args.target)

    def command() -> None:
        subprocess.run([xarch, "check", "--target", args.target, path], capture_output=True,
                       check=True, timeout=60)

    variants: dict[str, Callable[[], None]] = {
        "readelf": run_readelf,
        "read_facts": cold_facts,
        "check cold": cold_check,
        "check cached": cached_check,
        "xarch check": command,
    }
    for action in variants.values():  # warm-up: imports, page cache
        action()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants)
    for _ in range(args.rounds):
        random.shuffle(order)
        for name in order:
            if name == "check cached":
                check_file(path, args.target)  # make sure it is cached, whatever ran before
            samples[name].append(timed(variants[name]))

    medians = {name: statistics.median(values) for name, values in samples.items()}
    base = medians["readelf"]
    print(f"file: {path} ({Path(path).stat().st_size / 1e6:.1f} MB), target {args.target}, "
          f"{args.rounds} rounds, {platform.python_implementation()} {platform.python_version()}")
    for name, value in medians.items():
        print(f"  {name:<13} {value * 1000:8.2f} ms   {value / base:6.2f}x readelf")
    ratio = medians["check cold"] / base
    verdict = "smoke run, not judged" if QUICK else "ok" if ratio <= GOAL else "MISSED"
    print(f"check cold / readelf = {ratio:.2f} (goal <= {GOAL}): {verdict}")
    save_results({
        "file": path, "target": args.target, "rounds": args.rounds,
        "median_seconds": medians, "ratios_to_readelf": {n: v / base for n, v in medians.items()},
    }, args.json, DEFAULT_JSON)
    return 0 if QUICK or ratio <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
