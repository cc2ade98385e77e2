"""The SSH runner without a device: URLs, ssh options, remote quoting, status mapping."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_xarch.errors import SetupError
from pytest_xarch.fidelity import Fidelity
from pytest_xarch.runners import RunResult, runner_for
from pytest_xarch.runners.ssh import Device, DeviceAddress, SshRunner, parse_device
from pytest_xarch.targets import Target, resolve_target


def ssh_target(url: str, base: str = "aarch64", **settings: object) -> Target:
    values: dict[str, object] = {"runner": url, **settings}
    return dataclasses.replace(resolve_target(base), **values)  # type: ignore[arg-type]


@pytest.mark.parametrize("url, host, user, port", [
    ("ssh://pi@board.local", "board.local", "pi", None),
    ("ssh://root@127.0.0.1:2222", "127.0.0.1", "root", 2222),
    ("ssh://board", "board", None, None),
    ("ssh://me@[::1]:22/", "::1", "me", 22),
])
def test_parse_device(url: str, host: str, user: str | None, port: int | None) -> None:
    address = parse_device(ssh_target(url))
    assert (address.host, address.user, address.port) == (host, user, port)
    assert address.known_hosts == "accept-new"


@pytest.mark.parametrize("url", ["ssh://", "ssh://host:notaport", "ssh://host/some/path",
                                 "http://host"])
def test_parse_device_rejects_bad_urls(url: str) -> None:
    with pytest.raises(SetupError, match="expected ssh://"):
        parse_device(ssh_target(url))


def test_parse_device_checks_identity_and_known_hosts(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="ssh_identity"):
        parse_device(ssh_target("ssh://h", ssh_identity=str(tmp_path / "missing")))
    with pytest.raises(SetupError, match="ssh_known_hosts"):
        parse_device(ssh_target("ssh://h", ssh_known_hosts="sometimes"))
    known = tmp_path / "known_hosts"
    known.write_text("")
    assert parse_device(ssh_target("ssh://h", ssh_known_hosts=str(known))).known_hosts == str(
        known)


def _options(address: DeviceAddress) -> str:
    device = Device(address)
    device._control_dir = "/tmp/ctl"
    return " ".join(device._options())


def test_ssh_options_follow_the_settings(tmp_path: Path) -> None:
    base = DeviceAddress(host="h", user="pi", port=2200, identity="/k", options=("Foo=bar",))
    options = _options(base)
    for expected in ("BatchMode=yes", "ConnectTimeout=", "ControlPath=/tmp/ctl/master",
                     "StrictHostKeyChecking=accept-new", "-i /k -o IdentitiesOnly=yes",
                     "-o Foo=bar", "-p 2200", "-l pi"):
        assert expected in options
    assert "UserKnownHostsFile=/dev/null" in _options(dataclasses.replace(base, known_hosts="off"))
    assert "StrictHostKeyChecking=yes" in _options(
        dataclasses.replace(base, known_hosts="strict"))
    filed = _options(dataclasses.replace(base, known_hosts=str(tmp_path)))
    assert f"UserKnownHostsFile={tmp_path}" in filed


def _device() -> Device:
    device = Device(DeviceAddress(host="h"))
    device._control_dir = "/tmp/ctl"
    device.session_dir = "/tmp/xarch.abc"
    return device


@given(
    args=st.lists(st.text(alphabet=st.characters(blacklist_characters="\x00",
                                                 blacklist_categories=("Cs",))), max_size=6),
    value=st.text(alphabet=st.characters(blacklist_characters="\x00",
                                         blacklist_categories=("Cs",))),
)
def test_remote_command_carries_arguments_and_env_verbatim(args: list[str], value: str) -> None:
    argv = _device().run_argv("/tmp/xarch.abc/p", args, {"V": value}, None, "/tmp/xarch.abc/r")
    assert argv[-2] == "h"  # the destination, after "--"
    words = shlex.split(argv[-1])  # what a POSIX remote shell makes of the command string
    assert words[:2] == ["sh", "-c"]
    assert words[3:] == ["xarch", "/tmp/xarch.abc/r", "/tmp/xarch.abc", "1", f"V={value}",
                         "/tmp/xarch.abc/p", *args]


def test_bad_variable_names_are_refused() -> None:
    with pytest.raises(SetupError, match="cannot be set"):
        _device().run_argv("/p", [], {"A B": "1"}, None, "/r")


def _result(returncode: int, timed_out: bool = False) -> RunResult:
    return RunResult(args=["p"], returncode=returncode, stdout="", stderr="", target="aarch64",
                     runner="ssh", fidelity=Fidelity.HARDWARE, runner_description="",
                     timed_out=timed_out)


@pytest.mark.parametrize("status, returncode, signal", [
    (0, 0, None), (1, 1, None), (128, 128, None), (139, -11, 11), (137, -9, 9),
    (255, 255, None),
])
def test_shell_status_maps_back_to_signals(status: int, returncode: int,
                                           signal: int | None) -> None:
    runner = SshRunner(ssh_target("ssh://h"))
    result = runner.finish(_result(status), b"", "/scratch")
    assert (result.returncode, result.signal) == (returncode, signal)


def test_runner_kind_and_fidelity() -> None:
    runner = runner_for(ssh_target("ssh://pi@board:2222"))
    assert isinstance(runner, SshRunner)
    assert runner.fidelity == Fidelity.HARDWARE
    assert runner.describe() == "ssh://pi@board:2222"
    assert runner.prefix() == []
    with pytest.raises(SetupError, match="only be pinned under emulation"):
        runner_for(ssh_target("ssh://board"), cpu="cortex-a53")


@pytest.mark.parametrize("machine, target, ok", [
    ("aarch64", "aarch64", True), ("aarch64", "armv7", True), ("x86_64", "aarch64", False),
    ("armv7l", "aarch64", False), ("x86_64", "i686", True), ("riscv64", "riscv64-musl", True),
    ("s390x", "ppc64le", False),
])
def test_check_machine(machine: str, target: str, ok: bool) -> None:
    device = _device()
    device.machine = machine
    if ok:
        device.check_machine(resolve_target(target))
    else:
        with pytest.raises(SetupError, match=f"is {machine} \\(uname -m\\)"):
            device.check_machine(resolve_target(target))


def test_values_given_equal_to_ours_still_reach_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_xarch.runners import GuestEnvironment

    runner = SshRunner(ssh_target("ssh://h"))
    monkeypatch.setattr(runner, "upload", lambda path: "/remote/prog")
    monkeypatch.setattr(runner.device, "session_dir", "/remote")
    env = GuestEnvironment(inherited={"TZ": "UTC", "HOME": "/root"},
                           given={"TZ": "UTC", "XARCH_TARGET": "aarch64"})
    host = runner.command("/p", [], env, "/scratch")
    assert "TZ=UTC" in host.argv[-1] and "XARCH_TARGET=aarch64" in host.argv[-1]
    assert "HOME=" not in host.argv[-1]  # our own environment stays here
    runner.discard("/scratch")


def test_a_run_that_never_finishes_leaves_no_watchdog(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """ssh failing to start between command() and finish() must not leak the watchdog."""
    from pytest_xarch.runners import launch

    target = ssh_target("ssh://h")
    runner = SshRunner(target)
    monkeypatch.setattr(runner, "prepare", lambda program: None)
    monkeypatch.setattr(runner, "upload", lambda path: "/remote/prog")
    monkeypatch.setattr(runner.device, "session_dir", "/remote")

    def no_ssh(*args: object, **kwargs: object) -> None:
        raise OSError(2, "No such file or directory: 'ssh'")

    monkeypatch.setattr(launch, "execute", no_ssh)
    program = tmp_path / "prog"
    program.write_bytes(b"\x7fELF" + b"\0" * 60)
    program.chmod(0o755)
    with pytest.raises(OSError):
        launch.run(target, [str(program)], runner=runner, timeout=30)
    assert runner.runs_in_flight == 0
