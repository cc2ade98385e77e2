"""Real cross compilers through `toolchain.build`: C and C++ per target, zig for musl, the
cache (hits, concurrent processes, killed builds), compiler errors and the static check."""

from __future__ import annotations

import dataclasses
import os
import stat
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from pytest_xarch import Fidelity, run
from pytest_xarch.elf import read_interp
from pytest_xarch.process import execute
from pytest_xarch.targets import Target, resolve_target
from pytest_xarch.toolchain import BuildError, build, find_compiler, zig_available
from tests.support.tools import missing, require_tool

from ..support.processes import kill_tree

HELLO_C = r"""
#include <stdio.h>
int main(void) {
    unsigned one = 1;
    printf("%d-bit %s\n", (int)(sizeof(void *) * 8),
           *(unsigned char *)&one ? "little" : "big");
    return 0;
}
"""

HELLO_CXX = r"""
#include <iostream>
#include <stdexcept>
#include <vector>
[[gnu::noinline]] static int checked(const std::vector<int> &v, std::size_t i) {
    return v.at(i);
}
int main() {
    std::vector<int> v{1, 2, 3};
    int sum = 0;
    try {
        for (std::size_t i = 0;; ++i) sum += checked(v, i);
    } catch (const std::out_of_range &) {
        std::cout << "caught after sum " << sum << " on " << sizeof(void *) * 8 << "-bit\n";
    }
    return 0;
}
"""

BROKEN_C = r"""
#include <stdio.h>
static int f(int a) { int unused1; int unused2; return a; }
static int g(int a) { int unused3; return a + 1; }
int main(void) {
    int x = undefined_name + f(1) + g(2);
    printf("%d\n", x)
    return 0;
}
"""

# A compiler wrapper that logs each compile and sleeps `delay` seconds before the real gcc.
SLOW_CC = """#!/bin/sh
here=$(dirname "$0")
case " $* " in *" --version "*) exec aarch64-linux-gnu-gcc --version;; esac
echo "$$" >> "$here/invocations"
sleep "$(cat "$here/delay")"
exec aarch64-linux-gnu-gcc "$@"
"""

BUILD_SCRIPT = """
import sys
from pytest_xarch.settings import load_settings
from pytest_xarch.toolchain import build
settings = load_settings()
print(build(settings.resolve("slow"), ["prog.c"], cache_dir=sys.argv[1]))
"""

GCC_TARGETS = ["aarch64", "armv7", "riscv64", "x86_64"]
WORD = {"aarch64": 64, "armv7": 32, "riscv64": 64, "x86_64": 64}


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One build cache for the whole session, shared by xdist workers."""
    return tmp_path_factory.getbasetemp().parent / "xarch-build-cache"


def require_gnu(target: Target, lang: str = "c") -> None:
    """Skip (CI: fail) unless the GNU cross compiler for `target` and `lang` is installed."""
    driver = "g++" if lang == "c++" else "gcc"
    package = next((p for p in target.packages if p.startswith(driver)), driver)
    require_tool(f"{target.triple}-{driver}", package)
    require_tool(target.qemu_binary, "qemu-user")


def _source(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def _builds(cache: Path) -> list[str]:
    log = cache / "builds.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize("lang", ["c", "c++"])
@pytest.mark.parametrize("name", GCC_TARGETS)
def test_gcc_cross_builds_run_on_their_target(
    name: str, lang: str, shared_cache: Path, tmp_path: Path,
) -> None:
    target = resolve_target(name)
    require_gnu(target, lang)
    assert find_compiler(target, lang).kind == "gcc"
    source = (_source(tmp_path, "hello.c", HELLO_C) if lang == "c"
              else _source(tmp_path, "hello.cpp", HELLO_CXX))
    program = build(target, [source], cflags=["-O1"], lang=lang, cache_dir=shared_cache)
    assert read_interp(program) == target.loader  # dynamic, as users' programs are
    result = run(target, [str(program)])
    assert result.ok, result.explain()
    expected = (f"{WORD[name]}-bit little\n" if lang == "c"
                else f"caught after sum 6 on {WORD[name]}-bit\n")
    assert result.stdout == expected
    native = name == "x86_64" and os.uname().machine == "x86_64"
    assert result.fidelity == (Fidelity.NATIVE if native else Fidelity.EMULATED)


@pytest.fixture(scope="session")
def zig_musl_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One zig build for aarch64-musl (zig's first build per target takes about a minute)."""
    if not zig_available():
        missing("ziglang is not installed (pip install 'pytest-xarch[zig]')")
    folder = tmp_path_factory.mktemp("zig")
    source = _source(folder, "hello.c", HELLO_C)
    cache = tmp_path_factory.getbasetemp().parent / "xarch-build-cache"
    return build(resolve_target("aarch64-musl"), [source], cflags=["-O1"], cache_dir=cache)


def test_zig_builds_a_static_musl_binary_that_runs(zig_musl_program: Path) -> None:
    require_tool("qemu-aarch64", "qemu-user")
    assert find_compiler(resolve_target("aarch64-musl")).kind == "zig"
    assert read_interp(zig_musl_program) is None  # static: no musl sysroot needed
    result = run("aarch64-musl", [str(zig_musl_program)])
    assert result.ok, result.explain()
    assert result.stdout == "64-bit little\n"


def test_second_build_is_a_cache_hit_and_new_flags_rebuild(tmp_path: Path) -> None:
    target = resolve_target("aarch64")
    require_gnu(target)
    source = _source(tmp_path / "src", "hello.c", HELLO_C)
    cache = tmp_path / "cache"
    first = build(target, [source], cache_dir=cache)
    modified = first.stat().st_mtime_ns
    second = build(target, [source], cache_dir=cache)
    assert second == first and second.stat().st_mtime_ns == modified
    assert len(_builds(cache)) == 1
    build(target, [source], cflags=["-O2"], cache_dir=cache)
    build(target, [source], static=True, cache_dir=cache)
    assert len(_builds(cache)) == 3
    copy = build(target, [source], output=tmp_path / "bin" / "hello-aarch64", cache_dir=cache)
    assert copy == tmp_path / "bin" / "hello-aarch64"
    assert copy.read_bytes() == first.read_bytes() and os.access(copy, os.X_OK)
    assert len(_builds(cache)) == 3
    source.write_text(HELLO_C.replace("bit", "bits"))
    assert build(target, [source], cache_dir=cache) != first
    assert len(_builds(cache)) == 4


def _slow_project(tmp_path: Path, delay: float) -> Path:
    """A project whose target `slow` compiles through the sleeping wrapper around real gcc."""
    require_gnu(resolve_target("aarch64"))
    project = tmp_path / "project"
    wrapper = _source(project / "tools", "slow-cc", SLOW_CC)
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    (project / "tools" / "delay").write_text(f"{delay}\n")
    _source(project, "prog.c", HELLO_C)
    (project / "xarch.toml").write_text(f'[target.slow]\nbase = "aarch64"\ncc = "{wrapper}"\n')
    return project


def _invocations(project: Path) -> int:
    log = project / "tools" / "invocations"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_concurrent_processes_build_the_same_artifact_once(tmp_path: Path) -> None:
    project = _slow_project(tmp_path, delay=1.5)
    cache = tmp_path / "cache"
    outcomes: list[object] = [None] * 3

    def builder(index: int) -> None:
        outcomes[index] = execute([sys.executable, "-c", BUILD_SCRIPT, str(cache)],
                                  timeout=120, cwd=str(project))

    threads = [threading.Thread(target=builder, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    paths = set()
    for outcome in outcomes:
        assert outcome is not None
        assert outcome.returncode == 0, outcome.stderr.decode()  # type: ignore[attr-defined]
        paths.add(outcome.stdout.decode().strip())  # type: ignore[attr-defined]
    assert len(paths) == 1
    assert _invocations(project) == 1
    assert len(_builds(cache)) == 1
    result = run("aarch64", [paths.pop()])
    assert result.ok and result.stdout == "64-bit little\n", result.explain()


def _wait_for_compile(project: Path, timeout: float = 60) -> psutil.Process:
    """The running wrapper process, once it has logged its compile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _invocations(project):
            pid = int((project / "tools" / "invocations").read_text().split()[0])
            return psutil.Process(pid)
        time.sleep(0.05)
    raise AssertionError("the compiler wrapper never started")


def test_a_killed_compiler_leaves_no_artifact(tmp_path: Path) -> None:
    project = _slow_project(tmp_path, delay=60)
    cache = tmp_path / "cache"
    from pytest_xarch.settings import load_settings

    target = load_settings(project).resolve("slow")
    caught: list[BaseException] = []

    def builder() -> None:
        try:
            build(target, [project / "prog.c"], cache_dir=cache)
        except BaseException as error:
            caught.append(error)

    thread = threading.Thread(target=builder)
    thread.start()
    compiler = _wait_for_compile(project)
    kill_tree(compiler.pid, own_group=True)  # the compiler and its children, as an OOM kill
    thread.join(timeout=60)
    assert len(caught) == 1 and isinstance(caught[0], BuildError)
    assert "was killed" in str(caught[0])
    assert [p.name for p in cache.iterdir() if p.is_dir()] == []  # no artifact, no temp dir
    assert _builds(cache) == []
    (project / "tools" / "delay").write_text("0\n")
    program = build(target, [project / "prog.c"], cache_dir=cache)
    assert program.is_file() and len(_builds(cache)) == 1


def test_a_builder_killed_mid_build_leaves_no_artifact_and_the_next_build_works(
    tmp_path: Path,
) -> None:
    project = _slow_project(tmp_path, delay=60)
    cache = tmp_path / "cache"
    outcome = execute([sys.executable, "-c", BUILD_SCRIPT, str(cache)],
                      timeout=5, cwd=str(project))
    assert outcome.timed_out  # the builder and its compiler were killed with SIGKILL
    assert _invocations(project) == 1  # ... while compiling
    leftovers = [p for p in cache.iterdir() if p.is_dir()]
    assert [p.name[:5] for p in leftovers] == [".tmp-"]  # only the abandoned staging dir
    assert _builds(cache) == []
    (project / "tools" / "delay").write_text("0\n")
    rebuilt = execute([sys.executable, "-c", BUILD_SCRIPT, str(cache)],
                      timeout=120, cwd=str(project))
    assert rebuilt.returncode == 0, rebuilt.stderr.decode()
    assert Path(rebuilt.stdout.decode().strip()).is_file()
    assert not list(cache.glob(".tmp-*"))  # the stale staging dir was cleaned up
    assert len(_builds(cache)) == 1


def test_compiler_errors_are_reported_trimmed_with_the_full_log_kept(tmp_path: Path) -> None:
    target = resolve_target("aarch64")
    require_gnu(target)
    source = _source(tmp_path, "broken.c", BROKEN_C)
    with pytest.raises(BuildError) as caught:
        build(target, [source], cflags=["-Wall", "-Wextra"], cache_dir=tmp_path / "cache")
    message = str(caught.value)
    assert message.startswith("building broken.c for target 'aarch64' with gcc")
    assert "undefined_name" in message and "error:" in message
    assert "warning" not in message and "unused" not in message
    assert len(message.splitlines()) <= 15
    log = Path(message.rsplit("full compiler output: ", 1)[1].rstrip(")"))
    assert "warning: unused variable" in log.read_text()
    assert not [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]


def test_each_artifact_is_checked_statically(tmp_path: Path) -> None:
    target = dataclasses.replace(resolve_target("aarch64"), glibc="2.17")  # an old device
    require_gnu(target)
    source = _source(tmp_path, "hello.c", HELLO_C)
    with pytest.raises(BuildError) as caught:
        build(target, [source], cache_dir=tmp_path / "cache")
    assert "fails static verification" in str(caught.value)
    assert "glibc-too-new" in str(caught.value)
    assert _builds(tmp_path / "cache") == []
