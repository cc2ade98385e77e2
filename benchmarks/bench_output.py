#!/usr/bin/env python3
"""Peak memory of capturing a flood of guest output, against subprocess.run, in one run.

    .venv/bin/python benchmarks/bench_output.py [--mib 2048] [--rounds 3] [--json PATH]

Builds a static aarch64 program that writes MIB mebibytes to stdout, then runs it,
round by round, each variant in a fresh Python process that reports its own peak
RSS (ru_maxrss) and wall time:

  subprocess     subprocess.run([qemu-aarch64, -cpu, cortex-a53, ./flood, MIB],
                 capture_output=True): keeps every byte
  run()          pytest_xarch.run("aarch64", [./flood, MIB]): keeps the default
                 output limit's head and tail (32 MiB), counts the rest

and reports medians, and the ratios of `run()` to `subprocess` for peak memory and
wall time. Timing and memory live here, never in the tests. With
XARCH_BENCH_QUICK=1 it is a smoke run (40 MiB, just over the default output
limit, one round; results not written unless --json is given): it shows that
the benchmark works, not what it measures.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from smoke import QUICK, save_results

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "bench_output.json"
FLOOD = r"""
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    static char block[1 << 20];
    memset(block, 'x', sizeof block);
    for (long i = atol(argv[1]); i > 0; i--)
        for (size_t done = 0; done < sizeof block;) {
            ssize_t n = write(1, block + done, sizeof block - done);
            if (n <= 0) return 3;
            done += (size_t)n;
        }
    return 0;
}
"""
VARIANTS = {
    "subprocess": """
import resource, subprocess, sys, time
start = time.monotonic()
done = subprocess.run(["qemu-aarch64", "-cpu", "cortex-a53", *sys.argv[1:]], capture_output=True)
print(time.monotonic() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      len(done.stdout))
""",
    "run()": """
import resource, sys, time
from pytest_xarch import run
start = time.monotonic()
done = run("aarch64", sys.argv[1:], timeout=3600)
print(time.monotonic() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      len(done.stdout))
""",
}


def build(folder: Path) -> Path:
    compiler = shutil.which("aarch64-linux-gnu-gcc")
    if compiler is None:
        sys.exit("bench: aarch64-linux-gnu-gcc is not installed (make setup)")
    (folder / "flood.c").write_text(FLOOD)
    subprocess.run([compiler, "-O1", "-static", "-o", str(folder / "flood"),
                    str(folder / "flood.c")], check=True, timeout=300)
    return folder / "flood"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=2048, help="MiB the guest writes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help=f"where to write results ({DEFAULT_JSON})")
    args = parser.parse_args()
    if QUICK:
        args.mib, args.rounds = min(args.mib, 40), 1
        print(f"XARCH_BENCH_QUICK=1: a smoke run ({args.mib} MiB, 1 round); "
              "these figures are not measurements")
    results: dict[str, dict[str, list[float]]] = {
        name: {"seconds": [], "peak_mib": []} for name in VARIANTS}
    with tempfile.TemporaryDirectory() as scratch:
        program = build(Path(scratch))
        for _ in range(args.rounds):
            for name, code in VARIANTS.items():
                out = subprocess.run([sys.executable, "-c", code, str(program), str(args.mib)],
                                     capture_output=True, text=True, check=True, timeout=3600)
                seconds, peak_kib, _kept = out.stdout.split()
                results[name]["seconds"].append(float(seconds))
                results[name]["peak_mib"].append(int(peak_kib) / 1024)
    summary = {name: {key: statistics.median(values) for key, values in figures.items()}
               for name, figures in results.items()}
    ratios = {
        "peak memory run() / subprocess": summary["run()"]["peak_mib"]
        / summary["subprocess"]["peak_mib"],
        "wall time run() / subprocess": summary["run()"]["seconds"]
        / summary["subprocess"]["seconds"],
    }
    print(f"guest output: {args.mib} MiB to stdout, {args.rounds} rounds, medians")
    for name, figures in summary.items():
        peak, wall = figures["peak_mib"], figures["seconds"]
        print(f"  {name:<11} peak {peak:8.1f} MiB   wall {wall:6.2f} s")
    for label, value in ratios.items():
        print(f"  {label}: {value:.3f}")
    save_results({"mib": args.mib, "summary": summary, "ratios": ratios, "raw": results},
                 args.json, DEFAULT_JSON)
    return 0


if __name__ == "__main__":
    sys.exit(main())
