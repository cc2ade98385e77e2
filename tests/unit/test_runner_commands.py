"""Runner choice and the host command lines the runners build (no process is started)."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import pytest

from pytest_xarch.errors import SetupError
from pytest_xarch.fidelity import Fidelity
from pytest_xarch.roots import LibraryRoot
from pytest_xarch.runners import (
    GuestEnvironment,
    NativeRunner,
    QemuRunner,
    RunResult,
    guest_environment,
    host_environment,
    runner_for,
    runner_kind,
)
from pytest_xarch.targets import Target, resolve_target

FAKE_QEMU = "/opt/fake/bin/qemu-aarch64"


def _qemu(target: str = "aarch64", *, sysroot: str | None = "/usr/aarch64-linux-gnu",
          **kwargs: str) -> QemuRunner:
    """A QemuRunner with its emulator and sysroot pinned, so nothing is looked up on disk."""
    runner = QemuRunner(resolve_target(target), **kwargs)
    runner.__dict__["qemu_path"] = FAKE_QEMU
    root = LibraryRoot("sysroot", Path(sysroot), Path(sysroot)) if sysroot else None
    runner.__dict__["root"] = root
    return runner


def _option(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == flag]


def test_qemu_command_pins_the_baseline_cpu_not_max(tmp_path: Path) -> None:
    argv = _qemu().command("/w/prog", ["a", "b c"], GuestEnvironment({}, {}), str(tmp_path)).argv
    assert argv[0] == FAKE_QEMU
    assert _option(argv, "-cpu") == ["cortex-a53"]
    assert "max" not in argv
    assert _option(argv, "-L") == ["/usr/aarch64-linux-gnu"]
    assert argv[-3:] == ["/w/prog", "a", "b c"]


@pytest.mark.parametrize(
    ("target", "cpu"),
    [("armv7", "cortex-a7"), ("armel", "arm926"), ("riscv64", "rv64"), ("ppc64le", "power8"),
     ("s390x", "qemu"), ("i686", "pentium3"), ("x86_64", "qemu64")],
)
def test_every_target_gets_its_baseline_cpu(tmp_path: Path, target: str, cpu: str) -> None:
    argv = _qemu(target).command("/w/prog", [], GuestEnvironment({}, {}), str(tmp_path)).argv
    assert _option(argv, "-cpu") == [cpu]


def test_cpu_override_and_pinned_cpu(tmp_path: Path) -> None:
    argv = _qemu(cpu="max").command("/w/prog", [], GuestEnvironment({}, {}), str(tmp_path)).argv
    assert _option(argv, "-cpu") == ["max"]
    pinned = QemuRunner(dataclasses.replace(resolve_target("aarch64"), cpu="cortex-a72"))
    assert pinned.cpu == "cortex-a72"


def test_no_sysroot_means_no_dash_l(tmp_path: Path) -> None:
    argv = _qemu(sysroot=None).command("/w/prog", [], GuestEnvironment({}, {}), str(tmp_path)).argv
    assert "-L" not in argv


def test_a_multiarch_root_without_overlay_means_no_dash_l(tmp_path: Path) -> None:
    runner = _qemu(sysroot=None)
    runner.__dict__["root"] = LibraryRoot("multiarch", Path("/"), None)
    argv = runner.command("/w/prog", [], GuestEnvironment({}, {}), str(tmp_path)).argv
    assert "-L" not in argv
    runner.__dict__["qemu_path"] = None  # describe() would ask the fake QEMU its version
    assert runner.describe().endswith("; libraries from / (multiarch)")


def test_unimplemented_syscalls_are_logged_into_the_scratch_dir(tmp_path: Path) -> None:
    argv = _qemu().command("/w/prog", [], GuestEnvironment({}, {}), str(tmp_path)).argv
    assert _option(argv, "-d") == ["unimp"]
    assert _option(argv, "-D")[0].startswith(str(tmp_path))
    assert argv.index("-D") < argv.index("/w/prog")


def test_loader_variables_go_to_the_guest_with_dash_e(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin", "LD_PRELOAD": "libguest.so", "LD_LIBRARY_PATH": "/g/lib",
           "GLIBC_TUNABLES": "glibc.malloc.check=3"}
    host = _qemu().command("/w/prog", [], GuestEnvironment({}, env), str(tmp_path))
    argv, host_env = host.argv, host.env
    assert _option(argv, "-E") == [
        "LD_PRELOAD=libguest.so", "LD_LIBRARY_PATH=/g/lib", "GLIBC_TUNABLES=glibc.malloc.check=3"]
    assert host_env == {"PATH": "/usr/bin"}  # never the emulator's own loader's business
    assert argv.index("-E") < argv.index("/w/prog")


def test_target_qemu_args_follow_the_cpu(tmp_path: Path) -> None:
    target = dataclasses.replace(resolve_target("aarch64"), qemu_args=("-R", "1G"))
    runner = QemuRunner(target)
    runner.__dict__["qemu_path"] = FAKE_QEMU
    runner.__dict__["root"] = None
    assert runner.prefix() == [FAKE_QEMU, "-cpu", "cortex-a53", "-R", "1G"]


def test_missing_qemu_is_a_setup_error_naming_the_package() -> None:
    runner = QemuRunner(resolve_target("riscv64"))
    runner.__dict__["qemu_path"] = None
    with pytest.raises(SetupError, match=r"qemu-riscv64 not found.*apt-get install qemu-user"):
        runner.prefix()


def test_native_command_is_the_program_itself(tmp_path: Path) -> None:
    runner = NativeRunner(resolve_target("x86_64"))
    host = runner.command("/w/prog", ["x"], GuestEnvironment({}, {"A": "1"}), str(tmp_path))
    argv, env = host.argv, host.env
    assert (argv, env, runner.prefix()) == (["/w/prog", "x"], {"A": "1"}, [])
    assert runner.fidelity == Fidelity.NATIVE


def test_runner_choice(x86_64_host: Target) -> None:
    assert runner_kind(resolve_target("x86_64")) == "native"
    assert runner_kind(resolve_target("x86_64"), cpu="qemu64") == "qemu"
    assert runner_kind(resolve_target("aarch64")) == "qemu"
    assert runner_kind(resolve_target("i686")) == "qemu"
    forced = dataclasses.replace(resolve_target("x86_64"), runner="qemu")
    assert runner_kind(forced) == "qemu"
    assert runner_kind(dataclasses.replace(forced, runner="ssh://pi@board")) == "ssh"
    assert isinstance(runner_for(resolve_target("amd64")), NativeRunner)
    assert isinstance(runner_for(resolve_target("arm64")), QemuRunner)


def test_runner_choice_on_an_aarch64_host(aarch64_host: Target) -> None:
    assert runner_kind(resolve_target("arm64")) == "native"
    assert runner_kind(resolve_target("aarch64"), cpu="cortex-a53") == "qemu"
    assert runner_kind(resolve_target("armv7")) == "qemu"  # AArch32 is not assumed
    assert runner_kind(resolve_target("x86_64")) == "qemu"


def test_impossible_runner_requests_are_explained(x86_64_host: Target) -> None:
    with pytest.raises(SetupError, match="cannot execute AArch64 code"):
        runner_for(dataclasses.replace(resolve_target("aarch64"), runner="native"))
    with pytest.raises(SetupError, match="pins CPU model 'cortex-a72'"):
        runner_for(dataclasses.replace(resolve_target("x86_64"), runner="native",
                                       cpu="cortex-a72"))
    with pytest.raises(SetupError, match=r"runner 'teleport'.*available: .*native.*qemu"):
        runner_for(dataclasses.replace(resolve_target("aarch64"), runner="teleport"))


def test_guest_environment_is_clean_and_announces_the_runner(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {"LD_PRELOAD": "/host/lib.so", "LD_LIBRARY_PATH": "/host",
                        "QEMU_CPU": "max", "QEMU_LD_PREFIX": "/x", "XARCH_TARGET": "stale",
                        "GLIBC_TUNABLES": "x", "KEEP_ME": "1"}.items():
        monkeypatch.setenv(name, value)
    target = dataclasses.replace(resolve_target("aarch64"), env={"FROM_TARGET": "t"})
    runner = _qemu()
    guest = guest_environment(target, runner, {"FROM_CALLER": "c", "LD_PRELOAD": "guest.so"}
                              ).full()
    assert guest["KEEP_ME"] == "1"
    for name in ("LD_LIBRARY_PATH", "QEMU_CPU", "QEMU_LD_PREFIX", "GLIBC_TUNABLES"):
        assert name not in guest
    assert guest["LD_PRELOAD"] == "guest.so"  # asked for explicitly: it is the guest's
    assert (guest["XARCH_TARGET"], guest["XARCH_FIDELITY"]) == ("aarch64", "emulated")
    assert shlex.split(guest["XARCH_RUNNER"]) == [
        FAKE_QEMU, "-L", "/usr/aarch64-linux-gnu", "-cpu", "cortex-a53"]
    assert (guest["FROM_TARGET"], guest["FROM_CALLER"]) == ("t", "c")
    assert "LD_PRELOAD" not in host_environment()


def _result(**changes: object) -> RunResult:
    base = RunResult(args=["./p"], returncode=0, stdout="", stderr="", target="aarch64",
                     runner="qemu", fidelity=Fidelity.EMULATED, runner_description="qemu")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_signal_banner_becomes_the_signal(tmp_path: Path) -> None:
    stderr = b"before\nqemu: uncaught target signal 11 (Segmentation fault) - core dumped\n"
    result = _qemu().finish(_result(returncode=-11), stderr, str(tmp_path))
    assert (result.signal, result.signal_name, result.exit_status) == (11, "SIGSEGV", 139)
    assert result.stderr == "before\n"
    assert result.outcome() == "killed by SIGSEGV"


def test_a_result_from_an_outcome_names_the_runners_cpu_and_qemu() -> None:
    from pytest_xarch.process import ProcessOutcome

    outcome = ProcessOutcome(argv=["q"], returncode=-9, stdout=b"out", stderr=b"err",
                             timed_out=True, duration=1.5, stdout_dropped=3)
    result = RunResult.from_outcome(outcome, ["./p", "a"], "aarch64", _qemu(), timeout=2.0,
                                    command=["q", "./p", "a"], description="qemu")
    assert (result.cpu, result.qemu_path, result.runner) == ("cortex-a53", FAKE_QEMU, "qemu")
    assert (result.stdout, result.stderr, result.stdout_dropped) == ("out", "", 3)
    assert result.timed_out and result.signal is None  # killed by us, not of its own fault


def test_unimplemented_log_is_kept_only_for_failed_runs(tmp_path: Path) -> None:
    (tmp_path / "qemu-unimplemented.log").write_text(
        "Unsupported syscall: 293\nUnsupported syscall: 999\n")
    failed = _qemu().finish(_result(returncode=3), b"", str(tmp_path))
    assert failed.unimplemented == "Unsupported syscall: 999"  # rseq (293) is benign noise
    passed = _qemu().finish(_result(returncode=0), b"", str(tmp_path))
    assert passed.unimplemented == ""


def test_run_result_outcomes() -> None:
    assert _result(returncode=3).outcome() == "exit 3"
    assert _result(returncode=3).exit_status == 3
    assert _result(timed_out=True, timeout=5.0, returncode=-9).outcome() == "timed out after 5s"
    assert not _result(timed_out=True, returncode=0).ok
    assert _result(signal=4, returncode=-4).signal_name == "SIGILL"
    with pytest.raises(Exception, match="exit status 134"):
        _result(signal=6, returncode=-6).check_returncode()


def _fake_qemu(folder: Path, version: str) -> Path:
    script = folder / "qemu-fake"
    script.write_text(
        f"#!/bin/sh\necho run >> {folder / 'calls'}\necho 'qemu-fake version {version}'\n"
    )
    script.chmod(0o755)
    return script


def _calls(folder: Path) -> int:
    calls = folder / "calls"
    return len(calls.read_text().splitlines()) if calls.exists() else 0


def test_qemu_answers_are_cached_on_disk_until_the_binary_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from pytest_xarch.qemu_facts import qemu_says

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("XARCH_NO_CACHE", raising=False)
    qemu = _fake_qemu(tmp_path, "1.0")
    assert qemu_says(str(qemu), ["--version"]) == "qemu-fake version 1.0\n"
    assert qemu_says(str(qemu), ["--version"]) == "qemu-fake version 1.0\n"
    assert _calls(tmp_path) == 1
    entries = list((tmp_path / "cache" / "pytest-xarch" / "qemu").iterdir())
    assert len(entries) == 1 and not entries[0].name.startswith(".partial")
    _fake_qemu(tmp_path, "2.0")  # an upgraded emulator
    os.utime(qemu, ns=(1, 1))
    assert qemu_says(str(qemu), ["--version"]) == "qemu-fake version 2.0\n"
    assert _calls(tmp_path) == 2
    monkeypatch.setenv("XARCH_NO_CACHE", "1")
    qemu_says(str(qemu), ["--version"])
    assert _calls(tmp_path) == 3


def test_unwritable_cache_is_not_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_xarch.qemu_facts import qemu_says

    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file where a directory should be
    monkeypatch.delenv("XARCH_NO_CACHE", raising=False)
    qemu = _fake_qemu(tmp_path, "3.0")
    assert qemu_says(str(qemu), ["--version"]) == "qemu-fake version 3.0\n"
