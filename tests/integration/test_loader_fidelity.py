"""The check and the runner find libraries exactly where the target's loader does.

Every case is decided twice: by pytest-xarch (check and run) and by raw
`qemu-aarch64 -L <sysroot>`, the tool users would otherwise call, and the two
must agree: build trees (absolute RUNPATH and RPATH), `$ORIGIN`, a target's
LD_LIBRARY_PATH, and the Debian multiarch root where a cross loader with the
multiarch libc.so.6 hangs every threaded program.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_xarch import check, run
from pytest_xarch.checks import check_before_run, errors
from pytest_xarch.elf import read_facts
from pytest_xarch.errors import SetupError
from pytest_xarch.roots import choose_root
from pytest_xarch.targets import Target, resolve_target
from tests.integration.corpus import USES_FOO, Corpus, install
from tests.support.build import CrossBuilder
from tests.support.tools import missing, require_tool

CROSS = "/usr/aarch64-linux-gnu"
THREADS = r"""
#include <pthread.h>
#include <stdio.h>
static void *work(void *arg) { return arg; }
int main(void) {
  pthread_t threads[4];
  long sum = 0;
  for (long i = 0; i < 4; i++) pthread_create(&threads[i], NULL, work, (void *)i);
  for (int i = 0; i < 4; i++) { void *got; pthread_join(threads[i], &got); sum += (long)got; }
  printf("threads %ld\n", sum);
  return sum == 6 ? 0 : 1;
}
"""
USES_FOO_TEST = USES_FOO.replace("int main(void) {", "int main(void) {\n  /* a plain test */")


@pytest.fixture(scope="module")
def corpus(cross_build: CrossBuilder) -> Corpus:
    require_tool("qemu-aarch64", "qemu-user")
    return Corpus(cross_build)


def raw_qemu(program: Path, *, sysroot: str = CROSS, timeout: float = 60,
             env: dict[str, str] | None = None) -> int | None:
    """The exit status under `qemu-aarch64 -L sysroot`, as users run it; None: it hung."""
    guest_env = [arg for k, v in (env or {}).items() for arg in ("-E", f"{k}={v}")]
    argv = ["qemu-aarch64", "-L", sysroot, *guest_env, str(program)]
    try:
        return subprocess.run(argv, capture_output=True, timeout=timeout, check=False).returncode
    except subprocess.TimeoutExpired:
        return None  # subprocess.run kills the child on timeout


def require_multiarch() -> None:
    if not Path("/lib/aarch64-linux-gnu/libc.so.6").is_file():
        missing("libc6:arm64 is not installed through Debian multiarch "
                "(python3 qemu/provision.py --multiarch)")


def error_codes(program: Path, target: str | Target = "aarch64", **options: object) -> list[str]:
    return [f.code.value for f in errors(check(program, target, **options))]


@pytest.mark.parametrize("tags", ["--enable-new-dtags", "--disable-new-dtags"],
                         ids=["runpath", "rpath"])
def test_a_build_trees_absolute_search_path(corpus: Corpus, tmp_path: Path, tags: str) -> None:
    """CMake's default: the test program finds the project's libraries in the build tree."""
    build = tmp_path / "build"
    install(build, corpus.libfoo(2))
    program = corpus.builder.build("aarch64", USES_FOO, str(corpus.libfoo(2)),
                                   f"-Wl,{tags},-rpath,{build}", name="uses-foo-tree")
    facts = read_facts(program)
    assert (facts.runpath if tags == "--enable-new-dtags" else facts.rpath) == (str(build),)
    assert raw_qemu(program) == 0
    assert error_codes(program) == []
    assert run("aarch64", [str(program)]).exit_status == 0
    (build / "libfoo.so.1").unlink()  # now both must say it cannot run
    assert raw_qemu(program) == 127
    assert error_codes(program) == ["missing-library"]


def test_origin(corpus: Corpus, tmp_path: Path) -> None:
    program = install(tmp_path, corpus.uses_foo(), corpus.libfoo(2))
    assert raw_qemu(program) == 0
    assert error_codes(program) == []
    assert run("aarch64", [str(program)]).ok
    (tmp_path / "libfoo.so.1").unlink()
    assert raw_qemu(program) == 127
    assert error_codes(program) == ["missing-library"]


def test_library_path_of_the_target_env(corpus: Corpus, tmp_path: Path) -> None:
    libs = tmp_path / "libs"
    install(libs, corpus.libfoo(2))
    program = corpus.builder.build("aarch64", USES_FOO, str(corpus.libfoo(2)),
                                   name="uses-foo-no-rpath")
    target = dataclasses.replace(resolve_target("aarch64"),
                                 env={"LD_LIBRARY_PATH": str(libs)})
    assert raw_qemu(program) == 127
    assert raw_qemu(program, env=dict(target.env)) == 0
    assert run(target, [str(program)]).ok  # the pre-run check reads the target's env too
    check_before_run(str(program), target, env=target.env)
    with pytest.raises(SetupError, match=r"missing-library: needs libfoo\.so\.1"):
        check_before_run(str(program), resolve_target("aarch64"))


def test_library_path_of_the_target_env_in_the_collectors(
    corpus: Corpus, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    libs = tmp_path / "libs"
    install(libs, corpus.libfoo(2))
    built = corpus.builder.build("aarch64", USES_FOO_TEST, str(corpus.libfoo(2)),
                                 name="uses_foo_test")
    install(pytester.path, built)
    result = pytester.runpytest_subprocess("--xarch=aarch64", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*fails static checks*", "*missing-library: needs libfoo.so.1*"])
    pytester.makefile(".toml", xarch=f'[target.aarch64]\nenv = {{LD_LIBRARY_PATH = "{libs}"}}\n')
    result = pytester.runpytest_subprocess("--xarch=aarch64", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_multiarch_root_runs_threads_and_the_check_agrees(
    corpus: Corpus, tmp_path: Path
) -> None:
    require_multiarch()
    program = corpus.builder.build("aarch64", THREADS, "-pthread", name="threads")
    root = choose_root(resolve_target("aarch64"))
    assert root is not None and root.kind == "multiarch"
    # The trap: the cross loader, then the multiarch libc.so.6 through QEMU's fall-through.
    assert raw_qemu(program, timeout=10) is None
    assert raw_qemu(program, sysroot="/") == 0  # one tree: the multiarch one
    assert error_codes(program) == []
    result = run("aarch64", [str(program)], timeout=60)
    assert (result.exit_status, result.stdout) == (0, "threads 6\n")
    assert "libraries from / (multiarch" in result.runner_description


def test_the_cross_sysroot_is_kept_coherent_beside_multiarch(corpus: Corpus) -> None:
    require_multiarch()
    program = corpus.builder.build("aarch64", THREADS, "-pthread", name="threads")
    root = choose_root(resolve_target("aarch64"), CROSS)
    assert root is not None and root.kind == "sysroot" and root.prefix != Path(CROSS)
    assert error_codes(program, sysroot=CROSS) == []
    result = run("aarch64", [str(program)], sysroot=CROSS, timeout=60)
    assert result.exit_status == 0, result.stderr
    assert "the host's multiarch glibc kept out" in result.runner_description


def test_a_loader_and_libc_of_two_trees_is_a_finding(corpus: Corpus) -> None:
    require_multiarch()
    program = corpus.builder.build("aarch64", THREADS, "-pthread", name="threads")
    mixed = {"LD_LIBRARY_PATH": f"{CROSS}/lib"}  # the multiarch loader, the cross libc.so.6
    (finding,) = errors(check(program, "aarch64", extra_library_dirs=[f"{CROSS}/lib"]))
    assert finding.code == "mixed-libc"
    assert finding.facts["loader_build"] != finding.facts["libc_build"]
    assert raw_qemu(program, sysroot="/", env=mixed, timeout=10) is None  # it does hang
    with pytest.raises(SetupError, match="mixed-libc"):
        run("aarch64", [str(program)], env=mixed, timeout=10)


def test_xarch_targets_names_the_root() -> None:
    completed = subprocess.run([os.path.join(os.path.dirname(sys.executable), "xarch"),
                                "targets", "--json"], capture_output=True, text=True, check=True)
    rows = {row["name"]: row for row in json.loads(completed.stdout)}
    expected = choose_root(resolve_target("aarch64"))
    assert rows["aarch64"]["libraries"]["kind"] == (expected.kind if expected else None)
