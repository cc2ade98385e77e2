#!/usr/bin/env python3
"""ctest on a 300-case GoogleTest project built with `xarch toolchain --format cmake`, with
three emulators, in one run:

    .venv/bin/python benchmarks/bench_ctest.py [--cases 300] [--repeat 3] [--jobs 2]

  raw qemu          qemu-<arch> itself (its root and CPU given as QEMU_LD_PREFIX and
                    QEMU_CPU in ctest's environment: the command `xarch run` runs)
  emulator script   the script `xarch toolchain --format emulator` writes
  xarch run         `xarch run --target T --`, the generated toolchain file's default

One build directory per emulator (`gtest_discover_tests` bakes the emulator into the
tests it lists); then ctest runs in each, interleaved, `--repeat` times. Reports the
median wall and CPU time of a whole ctest run and the ratios against raw QEMU. With
XARCH_BENCH_QUICK=1 it is a smoke run (20 cases, one repeat). Needs cmake and the
sources of GoogleTest (Debian's googletest package).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from smoke import QUICK, save_results

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "benchmarks" / "results" / "bench_ctest.json"
XARCH = str(Path(sys.executable).with_name("xarch"))
CMAKE = """cmake_minimum_required(VERSION 3.16)
project(many CXX)
enable_testing()
add_subdirectory(/usr/src/googletest googletest EXCLUDE_FROM_ALL)
add_executable(many_test many_test.cc)
target_link_libraries(many_test GTest::gtest_main)
include(GoogleTest)
gtest_discover_tests(many_test DISCOVERY_TIMEOUT 120)
"""


def project(folder: Path, cases: int) -> Path:
    source = folder / "source"
    source.mkdir()
    (source / "CMakeLists.txt").write_text(CMAKE)
    tests = "\n".join(f"TEST(Many, Case{index}) {{ EXPECT_EQ({index} + 1, {index + 1}); }}"
                      for index in range(cases))
    (source / "many_test.cc").write_text(f"#include <gtest/gtest.h>\n{tests}\n")
    return source


def tool(*args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"bench: {' '.join(args)} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", default="aarch64")
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--json", type=Path, help=f"where to write results ({DEFAULT_JSON})")
    args = parser.parse_args()
    if QUICK:
        args.cases, args.repeat = 20, 1
        print("XARCH_BENCH_QUICK=1: a smoke run (20 cases, 1 repeat); "
              "these figures are not measurements")
    from pytest_xarch.runners import QemuRunner
    from pytest_xarch.targets import resolve_target

    runner = QemuRunner(resolve_target(args.target))
    prefix = runner.prefix()  # [qemu, (-L, root), -cpu, model]
    raw_env = {**os.environ, "QEMU_CPU": runner.cpu}
    if "-L" in prefix:
        raw_env["QEMU_LD_PREFIX"] = prefix[prefix.index("-L") + 1]
    with tempfile.TemporaryDirectory(prefix="xarch-bench-ctest-") as scratch:
        folder = Path(scratch)
        source = project(folder, args.cases)
        script = folder / "emulator"
        tool(XARCH, "toolchain", "--target", args.target, "--format", "emulator",
             "--output", str(script), cwd=folder)
        emulators = {"raw qemu": (prefix[0], raw_env), "emulator script": (str(script), None),
                     "xarch run": (f"{XARCH} run --target {args.target} --", None)}
        builds = {}
        for name, (emulator, env) in emulators.items():
            build = folder / name.replace(" ", "-")
            toolchain = folder / f"{build.name}.cmake"
            tool(XARCH, "toolchain", "--target", args.target, "--format", "cmake",
                 "--emulator", emulator, "--output", str(toolchain), cwd=folder)
            tool("cmake", "-S", str(source), "-B", str(build),
                 f"-DCMAKE_TOOLCHAIN_FILE={toolchain}", cwd=folder, env=env)
            tool("cmake", "--build", str(build), "-j", str(args.jobs), cwd=folder, env=env)
            builds[name] = (build, env)
        wall: dict[str, list[float]] = {name: [] for name in builds}
        cpu: dict[str, list[float]] = {name: [] for name in builds}
        for _ in range(args.repeat):
            for name, (build, env) in builds.items():
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                done = subprocess.run(["ctest", "-j", str(args.jobs)], cwd=build, env=env,
                                      capture_output=True, text=True, check=False)
                wall[name].append(time.perf_counter() - start)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[name].append(after.ru_utime - before.ru_utime
                                 + after.ru_stime - before.ru_stime)
                if f"0 tests failed out of {args.cases}" not in done.stdout:
                    sys.exit(f"bench: ctest with {name} did not pass:\n{done.stdout[-3000:]}")
    medians = {name: (statistics.median(wall[name]), statistics.median(cpu[name]))
               for name in builds}
    raw_wall, raw_cpu = medians["raw qemu"]
    print(f"ctest -j {args.jobs}, {args.cases} GoogleTest cases (gtest_discover_tests), "
          f"{runner.describe()}, {args.repeat} runs each, {os.cpu_count()} CPUs\n")
    print("| emulator | ctest wall (s) | CPU (s) | wall / raw qemu | CPU / raw qemu |")
    print("|---|---|---|---|---|")
    for name, (seconds, cpu_seconds) in medians.items():
        print(f"| {name} | {seconds:.2f} | {cpu_seconds:.2f} | {seconds / raw_wall:.2f}x | "
              f"{cpu_seconds / raw_cpu:.2f}x |")
    save_results({"cases": args.cases, "jobs": args.jobs, "repeat": args.repeat,
                  "wall": wall, "cpu": cpu}, args.json, DEFAULT_JSON)
    return 0


if __name__ == "__main__":
    sys.exit(main())
