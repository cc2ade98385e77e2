#!/usr/bin/env python3
"""Overhead of running a target binary through pytest-xarch, against raw QEMU, in one run.

    .venv/bin/python benchmarks/bench_run.py [--rounds 40] [--target aarch64] [--json PATH]

With XARCH_BENCH_QUICK=1 it is a smoke run (one round, no warm-up, results not
written unless --json is given): it shows that the benchmark works, not how fast.

Builds a dynamic hello world for the target, then measures the variants below,
interleaved round by round in a shuffled order so that machine load and ordering
affect every variant alike:

  raw qemu       subprocess.run([qemu-<arch>, -L, ROOT, -cpu, BASELINE, ./hello]), the
                 command `xarch run` runs (the reference; the same as `subprocess` below)
  xarch run      subprocess.run([xarch, run, --target, T, --, ./hello])
  xarch run, no check   the same with `check_before_run = false` (no static check first)
  emulator script   the script `xarch toolchain --format emulator` writes, ./hello
  subprocess     subprocess.run of the raw QEMU command, output captured
  run()          pytest_xarch.run(T, [./hello]) in this process, output captured

and reports medians of wall time and of CPU time (user + system of the command's
processes, from getrusage), and the ratios against raw QEMU: `xarch run` in wall
time (goal 1.6) and in CPU time (goal 1.5), the emulator script in CPU time (goal
1.1), `run() / subprocess` (goal 1.10). Timing lives here, never in the tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Callable, Optional

from smoke import QUICK, save_results

HELLO = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "bench_run.json"
GOALS = {
    "xarch run / raw qemu": 1.6,
    "xarch run, no check / raw qemu": 1.6,
    "xarch run / raw qemu, CPU": 1.5,
    "emulator script / raw qemu, CPU": 1.1,
    "run() / subprocess": 1.10,
}


def build_hello(target: str, folder: Path) -> Path:
    from pytest_xarch.targets import resolve_target

    compiler = shutil.which(f"{resolve_target(target).triple}-gcc")
    if compiler is None:
        sys.exit(f"bench: {resolve_target(target).triple}-gcc is not installed (make setup)")
    (folder / "hello.c").write_text(HELLO)
    subprocess.run([compiler, "-O1", "-o", str(folder / "hello"), str(folder / "hello.c")],
                   check=True, timeout=300)
    return folder / "hello"


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child processes it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    action()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(target: str, rounds: int, warmup: int) -> dict[str, object]:
    from pytest_xarch import run
    from pytest_xarch.runners import QemuRunner
    from pytest_xarch.targets import resolve_target

    resolved = resolve_target(target)
    runner = QemuRunner(resolved)
    if runner.qemu_path is None or runner.sysroot is None:
        sys.exit(f"bench: {resolved.qemu_binary} or the {target} sysroot is missing (make setup)")
    xarch = str(Path(sys.executable).with_name("xarch"))
    with tempfile.TemporaryDirectory(prefix="xarch-bench-") as scratch:
        hello = str(build_hello(target, Path(scratch)))
        raw = [*runner.prefix(), hello]  # what `xarch run` runs: its root, its pinned CPU
        cli = [xarch, "run", "--target", target, "--", hello]
        script = Path(scratch) / "emulator"
        subprocess.run([xarch, "toolchain", "--target", target, "--format", "emulator",
                        "--output", str(script)], check=True, timeout=120)
        emulated = [str(script), hello]
        no_check_config = Path(scratch) / "xarch.toml"
        no_check_config.write_text("check_before_run = false\n")
        # Measure what users get: byte-code caching on (warm-up rounds write the .pyc files).
        cli_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        no_check_env = {**cli_env, "XARCH_CONFIG": str(no_check_config)}

        def check(argv: Sequence[str]) -> None:
            completed = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            if completed.returncode != 0 or completed.stdout != "hello\n":
                sys.exit(f"bench: {argv} did not print hello: {completed}")

        check(raw)
        check(cli)
        check(emulated)
        if run(target, [hello]).stdout != "hello\n":
            sys.exit("bench: run() did not print hello")
        variants: dict[str, Callable[[], object]] = {
            # Output captured everywhere: with nothing to read, subprocess.run(timeout=...)
            # waits by sleep-polling, which would add up to ~15 ms to a 15 ms run.
            "raw qemu": lambda: subprocess.run(raw, capture_output=True, timeout=60),
            "xarch run": lambda: subprocess.run(cli, capture_output=True, env=cli_env, timeout=60),
            "xarch run, no check": lambda: subprocess.run(
                cli, capture_output=True, env=no_check_env, timeout=60),
            "emulator script": lambda: subprocess.run(emulated, capture_output=True, timeout=60),
            "subprocess": lambda: subprocess.run(raw, capture_output=True, timeout=60),
            "run()": lambda: run(target, [hello]),
        }
        samples: dict[str, list[float]] = {name: [] for name in variants}
        cpu: dict[str, list[float]] = {name: [] for name in variants}
        order = list(variants)
        shuffle = random.Random(2).shuffle
        for index in range(warmup + rounds):
            shuffle(order)
            for name in order:
                seconds, cpu_seconds = timed(variants[name])
                if index >= warmup:
                    samples[name].append(seconds)
                    cpu[name].append(cpu_seconds)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()
                   if name != "run()"}  # in this process: not a child's CPU time
    ratios = {
        "xarch run / raw qemu": medians["xarch run"] / medians["raw qemu"],
        "xarch run, no check / raw qemu": medians["xarch run, no check"] / medians["raw qemu"],
        "xarch run / raw qemu, CPU": cpu_medians["xarch run"] / cpu_medians["raw qemu"],
        "emulator script / raw qemu, CPU":
            cpu_medians["emulator script"] / cpu_medians["raw qemu"],
        "run() / subprocess": medians["run()"] / medians["subprocess"],
    }
    from pytest_xarch.runners.qemu import qemu_version

    return {
        "target": target,
        "rounds": rounds,
        "qemu": f"{resolved.qemu_binary} {qemu_version(runner.qemu_path)} -cpu {runner.cpu}",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "median_ms": {name: round(value * 1000, 2) for name, value in medians.items()},
        "median_cpu_ms": {name: round(value * 1000, 2) for name, value in cpu_medians.items()},
        "ratios": {name: round(value, 3) for name, value in ratios.items()},
        "goals": GOALS,
        "met": {name: ratios[name] <= goal for name, goal in GOALS.items()},
    }


def report(results: dict[str, object]) -> str:
    medians = results["median_ms"]
    ratios = results["ratios"]
    met = results["met"]
    assert isinstance(medians, dict) and isinstance(ratios, dict) and isinstance(met, dict)
    cpu = results["median_cpu_ms"]
    assert isinstance(cpu, dict)
    lines = [f"{results['qemu']}, Python {results['python']}, {results['rounds']} rounds, "
             f"{results['cpus']} CPUs", "", "| variant | median wall (ms) | median CPU (ms) |",
             "|---|---|---|"]
    lines += [f"| {name} | {value:.1f} | {cpu[name]:.1f} |" if name in cpu else
              f"| {name} | {value:.1f} | - |" for name, value in medians.items()]
    lines += ["", "| ratio | measured | goal | met |", "|---|---|---|---|"]
    lines += [f"| {name} | {ratios[name]:.2f}x | <= {goal:.2f}x | {'yes' if met[name] else 'no'} |"
              for name, goal in GOALS.items()]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="aarch64")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path, help=f"where to write results ({DEFAULT_JSON})")
    args = parser.parse_args(argv)
    if QUICK:
        args.rounds, args.warmup = 1, 0
        print("XARCH_BENCH_QUICK=1: a smoke run (1 round, no warm-up); "
              "these figures are not measurements")
    results = measure(args.target, args.rounds, args.warmup)
    print(report(results))
    save_results(results, args.json, DEFAULT_JSON)
    return 0


if __name__ == "__main__":
    sys.exit(main())
