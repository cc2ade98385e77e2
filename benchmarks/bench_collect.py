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

It prints ratios; docs/performance.md records them. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from pytest_xarch.process import execute, run_tool

GTEST = Path("/usr/src/googletest/googletest")
GXX = "aarch64-linux-gnu-g++"
SYSROOT = "/usr/aarch64-linux-gnu"
PYTEST = [sys.executable, "-m", "pytest"]


def build(folder: Path, cases: int) -> Path:
    """A GoogleTest binary with `cases` cases for aarch64."""
    source = folder / "generated_test.cc"
    lines = ["#include <gtest/gtest.h>"]
    lines += [f"TEST(Generated, Case{i}) {{ EXPECT_EQ({i} + 1, {i + 1}); }}" for i in range(cases)]
    source.write_text("\n".join(lines) + "\n")
    binary = folder / "generated_test"
    for argv in (
        [GXX, "-O1", "-c", "-pthread", f"-I{GTEST}/include", f"-I{GTEST}",
         str(GTEST / "src" / "gtest-all.cc"), "-o", str(folder / "gtest-all.o")],
        [GXX, "-O1", "-pthread", f"-I{GTEST}/include", str(source),
         str(folder / "gtest-all.o"), str(GTEST / "src" / "gtest_main.cc"), "-o", str(binary)],
    ):
        done = run_tool(argv, timeout=900)
        if done.returncode != 0:
            sys.exit(f"build failed: {' '.join(argv)}\n{done.stderr}")
    return binary


def timed(argv: list[str], cwd: Path, expect_ok: bool = True) -> float:
    """Wall-clock seconds of one run of `argv`."""
    start = time.monotonic()
    outcome = execute(argv, timeout=3600, cwd=str(cwd), env={**os.environ, "CI": ""})
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5, help="runs of the fast modes (best)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
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
    for name, value in figures.items():
        print(f"{name:26} {value:10.3f}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
