"""Cross-building the sample test suites once per session (cached on disk, xdist-safe).

Sources live next to this file. Every build goes to `root/<name>` through a
partial file renamed into place under a file lock, so concurrent workers
build each artifact once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Callable

from filelock import FileLock

from pytest_xarch.process import run_tool
from pytest_xarch.targets import resolve_target

from ...support.tools import missing, require_tool

SUITES = Path(__file__).parent
GTEST_ROOT = Path("/usr/src/googletest/googletest")
CATCH2_HEADER = Path("/usr/include/catch2/catch.hpp")
DOCTEST_HEADER = Path("/usr/include/doctest/doctest.h")
BUILD_TIMEOUT = 900.0
# Read at import, before pytester points HOME at a temporary folder (rustup lives in HOME).
RUSTUP_HOME = os.environ.get("RUSTUP_HOME") or os.path.expanduser("~/.rustup")


def _tool(argv: Sequence[str], *, cwd: str | None = None, env: dict[str, str] | None = None,
          timeout: float = BUILD_TIMEOUT) -> None:
    completed = run_tool(argv, timeout=timeout, cwd=cwd, env=env)
    if completed.returncode != 0:
        raise AssertionError(
            f"build step failed ({completed.returncode}): {' '.join(argv)}\n"
            f"{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
        )


def cached(root: Path, name: str, make: Callable[[Path], None]) -> Path:
    """`root/name`, made by `make(partial_path)` once and renamed into place."""
    root.mkdir(parents=True, exist_ok=True)
    output = root / name
    with FileLock(str(output) + ".lock"):
        if output.exists():
            return output
        partial = root / f".{name}.partial"
        if partial.is_dir():
            shutil.rmtree(partial)
        make(partial)
        partial.rename(output)
    return output


def cross_gxx(target_name: str) -> str:
    """The cross g++ of a target (the host's for x86_64)."""
    target = resolve_target(target_name)
    package = target.packages[0].replace("gcc", "g++") if target.packages else "g++"
    return require_tool(f"{target.triple}-g++", package)


def gtest_object(root: Path, target_name: str) -> Path:
    """gtest-all.o and gtest_main.o compiled for the target (the slow part, once)."""
    if not (GTEST_ROOT / "src" / "gtest-all.cc").is_file():
        missing("GoogleTest sources are not installed (apt-get install googletest)")
    gxx = cross_gxx(target_name)

    def make(partial: Path) -> None:
        partial.mkdir()
        for source in ("gtest-all.cc", "gtest_main.cc"):
            _tool([gxx, "-O1", "-c", "-pthread", f"-I{GTEST_ROOT}/include", f"-I{GTEST_ROOT}",
                   str(GTEST_ROOT / "src" / source), "-o",
                   str(partial / source.replace(".cc", ".o"))])

    return cached(root, f"gtest-lib-{target_name}", make)


def gtest_binary(root: Path, target_name: str, source: Path | None = None,
                 name: str = "sample_test") -> Path:
    """A GoogleTest binary for the target from `source` (default: the sample suite)."""
    source = source or SUITES / "gtest" / "sample_test.cc"
    lib = gtest_object(root, target_name)
    gxx = cross_gxx(target_name)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]

    def make(partial: Path) -> None:
        partial.mkdir()
        _tool([gxx, "-O1", "-pthread", f"-I{GTEST_ROOT}/include", str(source),
               str(lib / "gtest-all.o"), str(lib / "gtest_main.o"), "-o", str(partial / name)])

    return cached(root, f"gtest-{target_name}-{digest}", make) / name


def _header_suite(root: Path, kind: str, target_name: str, source: Path, name: str) -> Path:
    """A header-only framework's suite (Catch2 v2, doctest) built from `source`."""
    gxx = cross_gxx(target_name)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]

    def make(partial: Path) -> None:
        partial.mkdir()
        _tool([gxx, "-O1", "-pthread", str(source), "-o", str(partial / name)])

    return cached(root, f"{kind}-{target_name}-{digest}", make) / name


def catch2_binary(root: Path, target_name: str, source: Path | None = None,
                  name: str = "sample_test") -> Path:
    """A Catch2 suite for the target from `source` (default: the sample suite)."""
    if not CATCH2_HEADER.is_file():
        missing("Catch2 headers are not installed (apt-get install catch2)")
    return _header_suite(root, "catch2", target_name,
                         source or SUITES / "catch2" / "sample_test.cpp", name)


def doctest_binary(root: Path, target_name: str, source: Path | None = None,
                   name: str = "sample_test") -> Path:
    """A doctest suite for the target from `source` (default: the sample suite)."""
    if not DOCTEST_HEADER.is_file():
        missing("doctest headers are not installed (apt-get install doctest-dev)")
    return _header_suite(root, "doctest", target_name,
                         source or SUITES / "doctest" / "sample_test.cpp", name)


def go_binary(root: Path, goarch: str) -> Path:
    """`go test -c` of the Go sample package for GOARCH (offline: stdlib only).

    The binary is placed in a copy of the package folder, beside its testdata/.
    """
    go = require_tool("go", "golang-go")

    def make(partial: Path) -> None:
        shutil.copytree(SUITES / "go", partial)
        with tempfile.TemporaryDirectory(prefix="xarch-go-") as home:
            env = {**os.environ, "GOARCH": goarch, "GOOS": "linux", "GOARM": "7",
                   "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GOPROXY": "off",
                   "GOCACHE": f"{home}/cache", "GOPATH": f"{home}/path", "HOME": home}
            _tool([go, "test", "-c", "-o", str(partial / "sample" / "sample.test"), "./sample"],
                  cwd=str(partial), env=env)

    return cached(root, f"go-{goarch}", make) / "sample" / "sample.test"


def rust_binary(root: Path) -> Path:
    """A native x86_64 libtest binary (rustc here has the x86_64 std only)."""
    rustc = require_tool("rustc", "rustc")

    def make(partial: Path) -> None:
        partial.mkdir()
        _tool([rustc, "--edition", "2021", "--test", str(SUITES / "rust" / "sample.rs"),
               "-o", str(partial / "sample_test")],
              env={**os.environ, "RUSTUP_HOME": RUSTUP_HOME})

    return cached(root, "rust-x86_64", make) / "sample_test"


def ctest_tree(root: Path, target_name: str, *, emulator: Sequence[str] = ()) -> Path:
    """The CMake sample project configured and built for the target; returns the build dir."""
    cmake = require_tool("cmake", "cmake")
    target = resolve_target(target_name)
    gcc = require_tool(f"{target.triple}-gcc", target.packages[0] if target.packages else "gcc")
    sources = b"".join(p.read_bytes() for p in sorted((SUITES / "ctest").rglob("*")) if p.is_file())
    tag = hashlib.sha256(";".join(emulator).encode() + b"\0" + sources).hexdigest()[:8]

    def make(partial: Path) -> None:
        args = [cmake, "-S", str(SUITES / "ctest"), "-B", str(partial),
                "-DCMAKE_SYSTEM_NAME=Linux", f"-DCMAKE_SYSTEM_PROCESSOR={target.name}",
                f"-DCMAKE_C_COMPILER={gcc}"]
        if emulator:
            args.append("-DCMAKE_CROSSCOMPILING_EMULATOR=" + ";".join(emulator))
        _tool(args)
        _tool([cmake, "--build", str(partial)])

    # The build dir records its own path: build in place, not renamed.
    output = root / f"ctest-{target_name}-{tag}"
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(output) + ".lock"):
        done = output / ".built"
        if not done.exists():
            if output.exists():
                shutil.rmtree(output)
            make(output)
            done.touch()
    return output
