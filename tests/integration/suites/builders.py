"""Cross-building the sample test suites once per session (cached on disk, xdist-safe).

Sources live next to this file. Every build goes to `root/<name>` through a
partial file renamed into place under a file lock, so concurrent workers
build each artifact once.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import tarfile
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
# Debian source packages that vendor Unity (ThrowTheSwitch) as <dir>/unity/src/unity.c.
UNITY_SOURCE_PACKAGES = ("cjson", "libsml", "hstr")


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


def cross_gcc(target_name: str) -> str:
    """The cross gcc of a target (the host's for x86_64)."""
    target = resolve_target(target_name)
    return require_tool(f"{target.triple}-gcc", target.packages[0] if target.packages else "gcc")


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


def go_binary(root: Path, goarch: str, package: str = "sample") -> Path:
    """`go test -c` of a Go sample package (a folder of suites/go) for GOARCH (offline:
    stdlib only). The binary is placed in a copy of the package folder, beside its testdata/.
    """
    go = require_tool("go", "golang-go")

    def make(partial: Path) -> None:
        shutil.copytree(SUITES / "go", partial)
        with tempfile.TemporaryDirectory(prefix="xarch-go-") as home:
            env = {**os.environ, "GOARCH": goarch, "GOOS": "linux", "GOARM": "7",
                   "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod", "GOPROXY": "off",
                   "GOCACHE": f"{home}/cache", "GOPATH": f"{home}/path", "HOME": home}
            _tool([go, "test", "-c", "-o", str(partial / package / f"{package}.test"),
                   f"./{package}"], cwd=str(partial), env=env)

    sources = b"".join(p.read_bytes() for p in sorted((SUITES / "go").rglob("*")) if p.is_file())
    tag = hashlib.sha256(sources).hexdigest()[:8]
    return cached(root, f"go-{package}-{goarch}-{tag}", make) / package / f"{package}.test"


def rust_binary(root: Path) -> Path:
    """A native x86_64 libtest binary (rustc here has the x86_64 std only)."""
    rustc = require_tool("rustc", "rustc")

    def make(partial: Path) -> None:
        partial.mkdir()
        _tool([rustc, "--edition", "2021", "--test", str(SUITES / "rust" / "sample.rs"),
               "-o", str(partial / "sample_test")],
              env={**os.environ, "RUSTUP_HOME": RUSTUP_HOME})

    return cached(root, "rust-x86_64", make) / "sample_test"


def ctest_tree(root: Path, target_name: str, *, emulator: Sequence[str] = (),
               project: str = "ctest", defines: Sequence[str] = ()) -> Path:
    """A CMake sample project (`project`: its folder here) configured with `-D<defines>`
    and built for the target; returns the build dir."""
    cmake = require_tool("cmake", "cmake")
    target = resolve_target(target_name)
    gcc = cross_gcc(target_name)
    source_dir = SUITES / project
    sources = b"".join(p.read_bytes() for p in sorted(source_dir.rglob("*")) if p.is_file())
    tag = hashlib.sha256(";".join([*emulator, "\0", *defines]).encode() + b"\0"
                         + sources).hexdigest()[:8]

    def make(partial: Path) -> None:
        args = [cmake, "-S", str(source_dir), "-B", str(partial),
                "-DCMAKE_SYSTEM_NAME=Linux", f"-DCMAKE_SYSTEM_PROCESSOR={target.name}",
                f"-DCMAKE_C_COMPILER={gcc}", *(f"-D{define}" for define in defines)]
        if emulator:
            args.append("-DCMAKE_CROSSCOMPILING_EMULATOR=" + ";".join(emulator))
        _tool(args)
        _tool([cmake, "--build", str(partial)])

    # The build dir records its own path: build in place, not renamed.
    prefix = "ctest" if project == "ctest" else f"ctest-{project}"
    output = root / f"{prefix}-{target_name}-{tag}"
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(output) + ".lock"):
        done = output / ".built"
        if not done.exists():
            if output.exists():
                shutil.rmtree(output)
            make(output)
            done.touch()
    return output


def _source_entries(apt_etc: Path = Path("/etc/apt")) -> tuple[str, str]:
    """This machine's apt `deb` entries as `deb-src` ones: (deb822 text, one-line text)."""
    stanzas = []
    for path in sorted(apt_etc.glob("sources.list.d/*.sources")):
        for stanza in path.read_text(errors="replace").split("\n\n"):
            lines = stanza.strip().splitlines()
            types = next((line.split(":", 1)[1].split() for line in lines
                          if line.startswith("Types:")), [])
            if "deb" in types:
                stanzas.append("\n".join("Types: deb-src" if line.startswith("Types:") else line
                                         for line in lines))
    one_line = []
    for path in [apt_etc / "sources.list", *sorted(apt_etc.glob("sources.list.d/*.list"))]:
        if path.is_file():
            one_line += ["deb-src" + line.strip()[3:]
                         for line in path.read_text(errors="replace").splitlines()
                         if line.strip().startswith("deb ")]
    return "\n\n".join(stanzas) + "\n", "\n".join(one_line) + "\n"


def unity_sources(root: Path) -> Path:
    """Unity's src/ folder (unity.c, unity.h), taken from a Debian source package that
    vendors it: `apt-get source --download-only` with a private apt state (the system's
    apt lists and configuration untouched), the upstream tarball read with tarfile."""
    apt_get = require_tool("apt-get", "apt")

    def make(partial: Path) -> None:
        with tempfile.TemporaryDirectory(prefix="xarch-apt-") as scratch:
            state = Path(scratch)
            parts = state / "sources.list.d"
            for folder in (parts, state / "lists" / "partial", state / "cache" / "archives"
                           / "partial", state / "download"):
                folder.mkdir(parents=True)
            deb822, one_line = _source_entries()
            (parts / "xarch-src.sources").write_text(deb822)
            (parts / "xarch-src.list").write_text(one_line)
            private = ["-o", "Dir::Etc::sourcelist=/dev/null",
                       "-o", f"Dir::Etc::sourceparts={parts}",
                       "-o", f"Dir::State::lists={state / 'lists'}",
                       "-o", f"Dir::Cache={state / 'cache'}",
                       "-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root"]
            update = run_tool([apt_get, "-q", *private, "update"], timeout=600)
            for package in UNITY_SOURCE_PACKAGES:
                fetched = run_tool([apt_get, "-q", *private, "source", "--download-only",
                                    package], timeout=600, cwd=str(state / "download"))
                if fetched.returncode != 0:
                    continue
                for tarball in sorted(glob.glob(str(state / "download" / "*.orig.tar.*"))):
                    if _extract_unity(Path(tarball), partial):
                        return
            missing("Unity's sources could not be fetched from the Debian source packages "
                    f"{', '.join(UNITY_SOURCE_PACKAGES)} (apt-get update: "
                    f"{update.stderr.strip()[-500:] or 'ok'}); is a Debian/Ubuntu archive "
                    "reachable?")

    return cached(root, "unity-src", make) / "src"


def _extract_unity(tarball: Path, folder: Path) -> bool:
    """Unity's `src/` (and the `examples/unity_config.h` a vendored copy may include) from
    an upstream tarball into `folder`, keeping that layout; False if it has no Unity."""
    with tarfile.open(tarball) as archive:
        found = [m for m in archive.getmembers()
                 if m.isfile() and m.name.endswith("/unity/src/unity.c")]
        if not found:
            return False
        top = found[0].name[:-len("src/unity.c")]
        wanted = [m for m in archive.getmembers() if m.isfile() and (
            (m.name.startswith(top + "src/") and m.name.endswith((".c", ".h")))
            or m.name == top + "examples/unity_config.h")]
        for member in wanted:
            data = archive.extractfile(member)
            assert data is not None
            output = folder / member.name[len(top):]
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_bytes(data.read())
    (folder / "FROM").write_text(f"{tarball.name}: {top}\n")
    return True


def unity_binary(root: Path, target_name: str, source: Path | None = None,
                 name: str = "sample_test") -> Path:
    """A Unity runner for the target from `source` (default: the sample runner)."""
    source = source or SUITES / "unity" / "sample_test.c"
    unity = unity_sources(root)
    gcc = cross_gcc(target_name)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12]

    def make(partial: Path) -> None:
        partial.mkdir()
        _tool([gcc, "-O1", f"-I{unity}", str(source), str(unity / "unity.c"),
               "-o", str(partial / name)])

    return cached(root, f"unity-{target_name}-{digest}", make) / name


def unity_ctest_tree(root: Path, target_name: str, *, emulator: Sequence[str] = ()) -> Path:
    """The Unity sample runners as a CMake project (one add_test per runner), built."""
    unity = unity_sources(root)
    return ctest_tree(root, target_name, emulator=emulator, project="unity",
                      defines=[f"UNITY_DIR={unity}"])
