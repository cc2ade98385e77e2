"""Batch mode vs one launch per case, on one GoogleTest binary for aarch64 (one run).

    .venv/bin/python benchmarks/bench_collect.py [--cases 300] [--json out.json]

Builds a GoogleTest binary with N trivial generated cases for aarch64 (cached in
a temporary folder for the run), then times, in this order and in one process:

- raw:      the binary once under qemu-aarch64, no pytest (the floor);
- empty:    pytest running N empty Python tests (pytest's own per-item cost);
- batch:    pytest --xarch=aarch64 on the binary (listing cached, one launch);
- batch-cold: the same with an empty cache (the listing launch included);
- isolate:  pytest --xarch=aarch64 --xarch-isolate (one launch per case);
- ctest:    ctest on a CTestTestfile.cmake written the way gtest_discover_tests
            writes it with CMAKE_CROSSCOMPILING_EMULATOR (one launch per case).

With `--series 100,1000,10000` it measures instead how the batch mode's cost
grows with the case count (per-case cost over pytest's own for empty tests, and
over the raw run); with `--scaling K` it times K binaries (each M cases that do a
little work in the guest) serially and with `-n 2`, counting QEMU launches
through a wrapper, to show that xdist keeps one launch per binary and spreads
the binaries over the workers.

It prints ratios; docs/performance.md records them. Nothing here asserts a time.
With XARCH_BENCH_QUICK=1 it is a smoke run (a few cases, binaries and loop turns,
one run of each mode): it shows that the benchmark works, not how fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from smoke import QUICK

from pytest_xarch.process import execute, run_tool

GTEST = Path("/usr/src/googletest/googletest")
GXX = "aarch64-linux-gnu-g++"
SYSROOT = "/usr/aarch64-linux-gnu"
PYTEST = [sys.executable, "-m", "pytest"]


def build(folder: Path, cases: int, *, name: str = "generated_test", suite: str = "Generated",
          work: int = 0) -> Path:
    """A GoogleTest binary with `cases` cases for aarch64 (each spinning `work` loop turns)."""
    source = folder / f"{name}.cc"
    body = (f"volatile unsigned long n = 0; for (unsigned long k = 0; k < {work}UL; ++k) n += k;"
            if work else "")
    lines = ["#include <gtest/gtest.h>"]
    lines += [f"TEST({suite}, Case{i}) {{ {body} EXPECT_EQ({i} + 1, {i + 1}); }}"
              for i in range(cases)]
    source.write_text("\n".join(lines) + "\n")
    binary = folder / name
    library = folder / "gtest-all.o"
    steps = [] if library.exists() else [
        [GXX, "-O1", "-c", "-pthread", f"-I{GTEST}/include", f"-I{GTEST}",
         str(GTEST / "src" / "gtest-all.cc"), "-o", str(library)]]
    steps.append([GXX, "-O0" if cases > 2000 else "-O1", "-pthread", f"-I{GTEST}/include",
                  str(source), str(library), str(GTEST / "src" / "gtest_main.cc"), "-o",
                  str(binary)])
    for argv in steps:
        done = run_tool(argv, timeout=3600)
        if done.returncode != 0:
            sys.exit(f"build failed: {' '.join(argv)}\n{done.stderr}")
    return binary


def timed(argv: list[str], cwd: Path, expect_ok: bool = True,
          path: str | None = None) -> float:
    """Wall-clock seconds of one run of `argv` (with `path` as PATH, if given)."""
    start = time.monotonic()
    env = {**os.environ, "CI": "", **({"PATH": path} if path else {})}
    outcome = execute(argv, timeout=3600, cwd=str(cwd), env=env)
    elapsed = time.monotonic() - start
    if expect_ok and outcome.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({outcome.returncode}):\n"
                 f"{outcome.stdout.decode()[-3000:]}\n{outcome.stderr.decode()[-3000:]}")
    return elapsed


def ctest_file(folder: Path, binary: Path, cases: int) -> Path:
    """What gtest_discover_tests + CMAKE_CROSSCOMPILING_EMULATOR produce: a test per case."""
    tree = folder / "ctest"
    tree.mkdir()
    lines = [
        f"add_test([=[Generated.Case{i}]=] qemu-aarch64 -L {SYSROOT} -cpu cortex-a53 {binary} "
        f"[==[--gtest_filter=Generated.Case{i}]==] --gtest_also_run_disabled_tests)"
        for i in range(cases)
    ]
    (tree / "CTestTestfile.cmake").write_text("\n".join(lines) + "\n")
    return tree


def series(counts: list[int], repeat: int) -> dict[str, float]:
    """Batch-mode cost per case for each case count (best of `repeat` runs each)."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="xarch-bench-series-") as scratch:
        folder = Path(scratch)
        for count in counts:
            binary = build(folder, count, name=f"generated{count}_test")
            project = folder / f"project{count}"
            project.mkdir()
            (project / binary.name).symlink_to(binary)
            empty = folder / f"empty{count}"
            empty.mkdir()
            (empty / "test_empty.py").write_text(
                "".join(f"def test_{i}():\n    pass\n" for i in range(count)))
            batch = [*PYTEST, "-q", "-p", "no:randomly", "--rootdir", str(project), "-o",
                     f"cache_dir={folder / 'cache'}", "--xarch=aarch64", str(project)]
            timed(batch, project)  # the listing, cached for the timed runs
            raw = min(timed(["qemu-aarch64", "-cpu", "cortex-a53", str(binary)], folder)
                      for _ in range(repeat))
            plain = min(timed([*PYTEST, "-q", "-p", "no:cacheprovider", str(empty)], empty)
                        for _ in range(repeat))
            ours = min(timed(batch, project) for _ in range(repeat))
            figures[f"{count}: raw"] = raw
            figures[f"{count}: empty pytest"] = plain
            figures[f"{count}: batch"] = ours
            figures[f"{count}: added ms/case"] = (ours - plain - raw) / count * 1000
    return figures


def scaling(binaries: int, cases: int, work: int) -> dict[str, float]:
    """`binaries` binaries serially and with -n 2, and the QEMU launches of each run."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="xarch-bench-scaling-") as scratch:
        folder = Path(scratch)
        project = folder / "project"
        project.mkdir()
        for index in range(binaries):
            binary = build(folder, cases, name=f"suite{index}_test", suite=f"Suite{index}",
                           work=work)
            (project / binary.name).symlink_to(binary)
        log = folder / "launches.log"
        wrapped = folder / "bin"
        wrapped.mkdir()
        real = run_tool(["sh", "-c", "command -v qemu-aarch64"], timeout=10).stdout.strip()
        (wrapped / "qemu-aarch64").write_text(
            f'#!/bin/sh\ncase "$1 $2" in --version*|"-cpu help") ;; *) echo x >> {log} ;; '
            f'esac\nexec {real} "$@"\n')
        (wrapped / "qemu-aarch64").chmod(0o755)
        env_path = f"{wrapped}:{os.environ['PATH']}"
        base = [*PYTEST, "-q", "-p", "no:randomly", "--rootdir", str(project), "-o",
                f"cache_dir={folder / 'cache'}", "--xarch=aarch64", str(project)]
        for mode, extra in (("serial", []), ("-n 2", ["-n", "2"])):
            timed([*base, *extra], project, path=env_path)  # listings cached, workers warm
            log.unlink(missing_ok=True)
            figures[f"{mode} seconds"] = timed([*base, *extra], project, path=env_path)
            figures[f"{mode} launches"] = len(log.read_text().splitlines())
    figures["serial / -n 2"] = figures["serial seconds"] / figures["-n 2 seconds"]
    return figures


def report(figures: dict[str, float], json_path: str | None) -> None:
    for name, value in figures.items():
        print(f"{name:26} {value:10.3f}")
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5, help="runs of the fast modes (best)")
    parser.add_argument("--series", help="case counts to measure, e.g. 100,1000,10000")
    parser.add_argument("--scaling", type=int, metavar="K",
                        help="time K binaries serially and with -n 2")
    parser.add_argument("--work", type=int, default=3_000_000,
                        help="loop turns each case spins in the guest (--scaling)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    if QUICK:
        args.cases, args.repeat = min(args.cases, 5 if args.scaling else 10), 1
        args.scaling = args.scaling and min(args.scaling, 2)
        args.work = min(args.work, 1000)
        if args.series:
            args.series = ",".join(str(max(1, int(n) // 100)) for n in args.series.split(","))
        print("XARCH_BENCH_QUICK=1: a smoke run (" + (
            f"--series {args.series}" if args.series else
            f"--scaling {args.scaling} --cases {args.cases} --work {args.work}" if args.scaling
            else f"--cases {args.cases}") + ", one run each); these figures are not measurements")
    if args.series:
        report(series([int(n) for n in args.series.split(",")], args.repeat), args.json)
        return
    if args.scaling:
        report(scaling(args.scaling, args.cases, args.work), args.json)
        return
    with tempfile.TemporaryDirectory(prefix="xarch-bench-collect-") as scratch:
        folder = Path(scratch)
        binary = build(folder, args.cases)
        project = folder / "project"
        project.mkdir()
        (project / "generated_test").symlink_to(binary)
        empty = folder / "empty"
        empty.mkdir()
        (empty / "test_empty.py").write_text(
            "".join(f"def test_{i}():\n    pass\n" for i in range(args.cases)))
        common = ["-q", "-p", "no:randomly", "--rootdir", str(project)]
        cache = ["-o", f"cache_dir={folder / 'cache'}"]
        raw_argv = ["qemu-aarch64", "-L", SYSROOT, "-cpu", "cortex-a53", str(binary)]
        batch_argv = [*PYTEST, *common, *cache, "--xarch=aarch64", str(project)]
        figures: dict[str, float] = {"cases": args.cases, "batch-cold": timed(batch_argv, project)}
        # The fast modes: best of `--repeat` runs, to keep scheduling noise out of the ratios.
        figures["raw"] = min(timed(raw_argv, folder) for _ in range(args.repeat))
        figures["empty"] = min(
            timed([*PYTEST, "-q", "-p", "no:cacheprovider", str(empty)], empty)
            for _ in range(args.repeat))
        figures["batch"] = min(timed(batch_argv, project) for _ in range(args.repeat))
        figures["isolate"] = timed(
            [*PYTEST, *common, *cache, "--xarch=aarch64", "--xarch-isolate", str(project)],
            project)
        tree = ctest_file(folder, binary, args.cases)
        figures["ctest"] = timed(["ctest", "-j1", "--test-dir", str(tree)], tree)
    added = figures["batch"] - figures["empty"]
    figures["added_over_empty_vs_raw"] = added / figures["raw"]
    figures["isolate_vs_batch"] = figures["isolate"] / figures["batch"]
    figures["ctest_vs_batch"] = figures["ctest"] / figures["batch"]
    report(figures, args.json)


if __name__ == "__main__":
    main()
