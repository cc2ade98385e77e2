"""`xarch run` and `xarch targets` as a user (or CMake, cargo, go test) calls them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_xarch.roots import choose_root
from pytest_xarch.targets import builtin_registry, resolve_target
from tests.integration.corpus import Corpus, install
from tests.integration.test_run import ECHO, SEGV
from tests.integration.test_run_timeouts import SPIN
from tests.support.build import CrossBuilder
from tests.support.tools import require_tool

XARCH = str(Path(sys.executable).with_name("xarch"))


def xarch(*args: str, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [XARCH, *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def echo(cross_build: CrossBuilder) -> str:
    require_tool("qemu-aarch64", "qemu-user")
    return str(cross_build.build("aarch64", ECHO, name="echo"))


def test_exit_status_output_and_stdin_pass_through(echo: str) -> None:
    completed = xarch("run", "--target", "arm64", "--", echo, "5", "a b", stdin="line\n")
    assert completed.returncode == 5, completed.stderr
    assert completed.stdout == "argc=3 [5] [a b]\nin:line\n"
    assert completed.stderr == "to stderr\n"


def test_success_is_zero(echo: str) -> None:
    assert xarch("run", "--target", "aarch64-unknown-linux-gnu", echo).returncode == 0


def test_program_after_double_dash_may_take_options(echo: str) -> None:
    completed = xarch("run", "-t", "aarch64", "--", echo, "--help")
    assert completed.returncode == 0
    assert "[--help]" in completed.stdout


def test_signal_is_128_plus_n_without_the_qemu_banner(cross_build: CrossBuilder) -> None:
    require_tool("qemu-riscv64", "qemu-user")
    program = str(cross_build.build("riscv64", SEGV, "-static", name="segv"))
    completed = xarch("run", "--target", "riscv64", "--", program)
    assert completed.returncode == 128 + 11
    assert "uncaught target signal" not in completed.stderr


def test_timeout_is_124(cross_build: CrossBuilder) -> None:
    require_tool("qemu-aarch64", "qemu-user")
    program = str(cross_build.build("aarch64", SPIN, "-static", name="spin"))
    completed = xarch("run", "--target", "aarch64", "--timeout", "0.5", "--", program)
    assert completed.returncode == 124
    assert "timed out after 0.5s" in completed.stderr


def test_cannot_run_is_127_with_one_clear_line(tmp_path: Path) -> None:
    completed = xarch("run", "--target", "aarch64", "--", str(tmp_path / "missing"))
    assert completed.returncode == 127
    assert completed.stderr.startswith("xarch: error: ")
    assert "no such file" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert completed.stderr.count("\n") == 1


def test_missing_sysroot_via_the_command_line(echo: str, tmp_path: Path) -> None:
    completed = xarch("run", "--target", "aarch64", "--sysroot", str(tmp_path), "--", echo)
    assert completed.returncode == 127
    assert "does not contain /lib/ld-linux-aarch64.so.1" in completed.stderr


def test_unknown_target_is_127_and_suggests(echo: str) -> None:
    completed = xarch("run", "--target", "aarch46", "--", echo)
    assert completed.returncode == 127
    assert "Did you mean 'aarch64'?" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("args", [
    ["run", "--target", "aarch64"],
    ["run", "--target", "aarch64", "--"],
    ["run", "--target", "aarch64", "--timeout", "0", "--", "/bin/true"],
    ["run", "--", "/bin/true"],
])
def test_usage_errors_are_2(args: list[str]) -> None:
    completed = xarch(*args)
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr


def test_cpu_option_changes_the_model(cross_build: CrossBuilder) -> None:
    require_tool("qemu-aarch64", "qemu-user")
    from tests.integration.test_run import ATOMIC

    program = str(cross_build.build(
        "aarch64", ATOMIC, "-static", "-march=armv8.2-a", "-mno-outline-atomics", name="lse"))
    assert xarch("run", "--target", "aarch64", "--", program).returncode == 128 + 4
    passed = xarch("run", "--target", "aarch64", "--cpu", "max", "--", program)
    assert (passed.returncode, passed.stdout) == (0, "0 5\n")


def test_bad_configuration_is_one_clear_line(echo: str, tmp_path: Path) -> None:
    (tmp_path / "xarch.toml").write_text("timeout = -1\n")
    completed = subprocess.run(
        [XARCH, "run", "--target", "aarch64", "--", echo], cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 127
    assert "'timeout' = -1 is invalid" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_targets_json_lists_every_target_with_readiness() -> None:
    completed = xarch("targets", "--json")
    assert completed.returncode == 0, completed.stderr
    rows = json.loads(completed.stdout)
    assert [row["name"] for row in rows] == builtin_registry().names()
    by_name = {row["name"]: row for row in rows}
    aarch64 = by_name["aarch64"]
    for key in ("runner", "qemu", "qemu_version", "sysroot", "compiler", "cpu", "packages"):
        assert key in aarch64
    assert aarch64["cpu"] == "cortex-a53"
    assert aarch64["runner"] == "qemu"
    if aarch64["qemu"]:
        assert aarch64["qemu_version"][0].isdigit()
        assert aarch64["cpu_known_to_qemu"] is True
    require_tool("qemu-aarch64", "qemu-user")
    require_tool("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu")
    root = choose_root(resolve_target("aarch64"))  # multiarch "/" when libc6:arm64 is installed
    assert root is not None and aarch64["sysroot"] == str(root.tree)
    assert aarch64["libraries"]["kind"] == root.kind
    assert aarch64["compiler"].endswith("aarch64-linux-gnu-gcc")
    for name in ("armv7", "riscv64", "ppc64le", "s390x", "i686", "armel"):
        assert by_name[name]["cpu_known_to_qemu"] is True, name


def test_targets_table_is_human_readable() -> None:
    completed = xarch("targets")
    assert completed.returncode == 0
    lines = completed.stdout.splitlines()
    assert lines[0].split()[:3] == ["target", "runner", "qemu"]
    assert any(line.startswith("riscv64 ") for line in lines)


def test_missing_qemu_is_127_naming_the_package(echo: str, tmp_path: Path) -> None:
    import os

    completed = subprocess.run(
        [XARCH, "run", "--target", "aarch64", "--", echo],
        env={**os.environ, "PATH": str(tmp_path)},  # a PATH without any qemu
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 127
    assert "qemu-aarch64 not found" in completed.stderr
    assert "apt-get install qemu-user" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize(("cpu", "said"), [
    ("cortex-a53,foo=bar", "Property 'cortex-a53-arm-cpu.foo' not found"),
    ("cortex-a53,+sve", "Expected key=value format"),
])
def test_a_cpu_qemu_refuses_is_127_with_qemus_reason(echo: str, cpu: str, said: str) -> None:
    completed = xarch("run", "--target", "aarch64", "--cpu", cpu, "--", echo)
    assert completed.returncode == 127, completed.stderr
    assert "refuses to start" in completed.stderr and said in completed.stderr
    assert completed.stderr.count("\n") == 1


def test_qemu_args_qemu_refuses_are_127_with_qemus_reason(echo: str, tmp_path: Path) -> None:
    (tmp_path / "xarch.toml").write_text('[target.aarch64]\nqemu_args = ["-no-such-option"]\n')
    completed = subprocess.run(
        [XARCH, "run", "--target", "aarch64", "--", echo], cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 127, completed.stderr
    assert "unknown option 'no-such-option'" in completed.stderr
    assert "qemu_args" in completed.stderr  # where to fix it


@pytest.mark.parametrize("value", ["inf", "nan", "1e300", "3000000", "-1"])
def test_unusable_timeouts_are_usage_errors(value: str) -> None:
    completed = xarch("run", "--target", "aarch64", "--timeout", value, "--", "/bin/true")
    assert completed.returncode == 2, completed.stderr
    assert "--timeout" in completed.stderr and "at most 2147483" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("line", ["timeout = inf", "timeout = nan", "timeout = 1e300",
                                  "emulation_factor = inf"])
def test_unusable_timeouts_in_the_configuration_name_the_file(
    echo: str, tmp_path: Path, line: str
) -> None:
    (tmp_path / "xarch.toml").write_text(line + "\n")
    completed = subprocess.run(
        [XARCH, "run", "--target", "aarch64", "--", echo], cwd=tmp_path,
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 127
    assert str(tmp_path / "xarch.toml") in completed.stderr and "is invalid" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_unusable_timeout_in_the_environment(echo: str) -> None:
    import os

    completed = subprocess.run(
        [XARCH, "run", "--target", "aarch64", "--", echo], env={**os.environ,
                                                                "XARCH_TIMEOUT": "inf"},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == 127
    assert "XARCH_TIMEOUT='inf'" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_no_check_runs_what_the_check_refuses(cross_build: CrossBuilder, tmp_path: Path) -> None:
    corpus = Corpus(cross_build)
    program = str(install(tmp_path, corpus.uses_foo()))  # its libfoo.so.1 is not beside it
    refused = xarch("run", "--target", "aarch64", "--", program)
    assert refused.returncode == 127
    assert "missing-library: needs libfoo.so.1" in refused.stderr
    assert "xarch run --no-check" in refused.stderr
    ran = xarch("run", "--target", "aarch64", "--no-check", "--", program)
    assert ran.returncode == 127  # now the guest's own loader says why
    assert "error while loading shared libraries: libfoo.so.1" in ran.stderr


def test_the_shells_library_path_reaches_the_guest_only_when_passed(
    cross_build: CrossBuilder, tmp_path: Path,
) -> None:
    source = ('#include <stdio.h>\n#include <stdlib.h>\nint main(void) { const char *p = '
              'getenv("LD_LIBRARY_PATH"); puts(p ? p : "-"); return 0; }\n')
    program = str(cross_build.build("aarch64", source, name="libpath"))
    env = {**os.environ, "LD_LIBRARY_PATH": str(tmp_path / ".libs")}

    def shown(*options: str) -> str:
        done = subprocess.run([XARCH, "run", "--target", "aarch64", *options, "--", program],
                              env=env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert shown() == "-\n"  # the host's, kept from the guest
    assert shown("--pass-library-path") == f"{tmp_path / '.libs'}\n"  # what libtool sets
