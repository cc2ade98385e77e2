"""The SSH runner against a real sshd on loopback: this x86_64 host plays the device."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from pytest_xarch import run, runner_for
from pytest_xarch.errors import SetupError
from pytest_xarch.fidelity import Fidelity
from pytest_xarch.runners.ssh import SshRunner, close_all
from pytest_xarch.targets import Target, host_target, resolve_target

from ..support.build import CrossBuilder
from ..support.probes import probe_source
from .sshd import Sshd, free_port

pytestmark = pytest.mark.integration

PROBE = probe_source()


@pytest.fixture(scope="module")
def probe(cross_build: CrossBuilder) -> Path:
    """The probe program, built for this host (the device)."""
    return cross_build.build(host_target().name, PROBE, name="probe")


def device_target(server: Sshd, base: str | None = None, **settings: object) -> Target:
    """A target whose runner is the sshd (the host's own target unless `base` is given)."""
    target = resolve_target(base or host_target().name)
    values: dict[str, object] = {"runner": server.url, "ssh_identity": str(server.identity),
                                 "ssh_known_hosts": "off", **settings}
    return dataclasses.replace(target, **values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def device(sshd: Sshd) -> Target:
    return device_target(sshd)


@pytest.fixture(scope="module")
def runner(device: Target) -> SshRunner:
    made = runner_for(device)
    assert isinstance(made, SshRunner)
    return made


def test_run_has_hardware_fidelity_and_names_the_device(
    device: Target, runner: SshRunner, probe: Path, sshd: Sshd
) -> None:
    result = run(device, [str(probe), "args", "hello"], runner=runner)
    assert result.returncode == 0, result.explain()
    assert result.stdout == "<hello>\n"
    assert result.fidelity == Fidelity.HARDWARE
    assert result.runner == "ssh"
    assert sshd.url in result.runner_description
    assert os.uname().machine in result.runner_description


def test_exit_status_is_the_programs(device: Target, runner: SshRunner, probe: Path) -> None:
    for status in (0, 3, 127, 200):
        result = run(device, [str(probe), "exit", str(status)], runner=runner)
        assert (result.returncode, result.signal) == (status, None), result.explain()


def test_death_by_signal_is_reported_as_the_signal(
    device: Target, runner: SshRunner, probe: Path
) -> None:
    result = run(device, [str(probe), "segv"], runner=runner)
    assert result.signal == 11, result.explain()
    assert result.returncode == -11
    assert result.exit_status == 139
    assert result.outcome() == "killed by SIGSEGV"


HOSTILE = [
    "two words",
    "it's",
    'say "hi"',
    "a;b",
    "$(touch {marker})",
    "`touch {marker}`",
    "x && touch {marker}",
    "line1\nline2",
    "*",
    "",
    "-n",
    "$HOME",
    "back\\slash",
    "tab\there",
    "ünïcødé",
]


def test_hostile_arguments_arrive_verbatim_and_never_execute(
    device: Target, runner: SshRunner, probe: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "executed"
    args = [arg.format(marker=marker) for arg in HOSTILE]
    result = run(device, [str(probe), "args", *args], runner=runner)
    assert result.returncode == 0, result.explain()
    assert result.stdout == "".join(f"<{arg}>\n" for arg in args)
    assert not marker.exists()


def test_stdin_is_passed(device: Target, runner: SshRunner, probe: Path) -> None:
    data = "banana\n" * 1000 + "no newline at the end"
    result = run(device, [str(probe), "cat"], stdin=data, runner=runner)
    assert result.returncode == 0, result.explain()
    assert result.stdout == data.replace("a", "A")


def test_environment_reaches_the_device(device: Target, runner: SshRunner, probe: Path) -> None:
    env = {"XARCH_TEST_VALUE": "spaces and 'quotes' and $(no) and\nnewline", "EMPTY": ""}
    result = run(device, [str(probe), "env", "XARCH_TEST_VALUE", "EMPTY", "XARCH_TARGET",
                          "XARCH_FIDELITY"], env=env, runner=runner)
    assert result.returncode == 0, result.explain()
    assert result.stdout == (
        f"XARCH_TEST_VALUE={env['XARCH_TEST_VALUE']}\nEMPTY=\n"
        f"XARCH_TARGET={device.name}\nXARCH_FIDELITY=hardware\n"
    )


def test_a_value_equal_to_ours_still_reaches_the_device(
    device: Target, runner: SshRunner, probe: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROBE_SAME_VALUE", "UTC")  # ours too; the device has its own env
    result = run(device, [str(probe), "env", "PROBE_SAME_VALUE"], env={"PROBE_SAME_VALUE": "UTC"},
                 runner=runner)
    assert result.stdout == "PROBE_SAME_VALUE=UTC\n", result.explain()


def test_working_directory_is_a_device_path(
    device: Target, runner: SshRunner, probe: Path, tmp_path: Path
) -> None:
    odd = tmp_path / "a dir; with $(odd) name"
    odd.mkdir()
    result = run(device, [str(probe), "cwd"], cwd=str(odd), runner=runner)
    assert result.stdout == f"{odd}\n", result.explain()
    default = run(device, [str(probe), "cwd"], runner=runner)
    assert default.stdout.strip() == runner.device.session_dir
    gone = run(device, [str(probe), "cwd"], cwd=str(tmp_path / "absent"), runner=runner)
    assert gone.returncode == 127
    assert "does not exist on the device" in gone.stderr


def _wait_gone(pid: int) -> bool:
    try:
        process = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return True
    try:
        process.wait(timeout=10)
    except psutil.TimeoutExpired:
        return process.status() == psutil.STATUS_ZOMBIE
    return True


def test_timeout_kills_the_remote_process_group(
    device: Target, runner: SshRunner, probe: Path, tmp_path: Path
) -> None:
    parent_file, child_file = tmp_path / "parent.pid", tmp_path / "child.pid"
    result = run(device, [str(probe), "hang", str(parent_file), str(child_file)],
                 timeout=1.5, runner=runner)
    assert result.timed_out, result.explain()
    assert result.signal is None
    for pid_file in (parent_file, child_file):
        pid = int(pid_file.read_text())
        assert _wait_gone(pid), f"remote process {pid} survived the timeout"
    # The connection is still good afterwards.
    assert run(device, [str(probe), "exit", "0"], runner=runner).ok


def test_runs_reuse_one_connection_and_one_copy(
    sshd: Sshd, probe: Path, tmp_path: Path, cross_build: CrossBuilder
) -> None:
    fresh = runner_for(device_target(sshd, ssh_workdir=str(tmp_path / "work")))
    assert isinstance(fresh, SshRunner)
    before = sshd.accepted_logins()
    for status in range(5):
        result = run(fresh.target, [str(probe), "exit", str(status)], runner=fresh)
        assert result.returncode == status, result.explain()
    assert sshd.accepted_logins() - before == 1  # one handshake for five runs
    session = Path(fresh.device.session_dir or "")
    assert session.parent == tmp_path / "work"
    assert len(list(session.rglob("probe"))) == 1  # content-addressed: copied once
    other = cross_build.build(host_target().name, PROBE.replace("return 99", "return 98"),
                              name="probe")
    assert run(fresh.target, [str(other), "exit", "0"], runner=fresh).ok
    assert len(list(session.rglob("probe"))) == 2


def test_close_all_removes_the_session_dir_and_stops_the_master(
    sshd: Sshd, probe: Path
) -> None:
    target = device_target(sshd, ssh_workdir="/tmp/xarch-close-test")
    runner = runner_for(target)
    assert isinstance(runner, SshRunner)
    assert run(target, [str(probe), "exit", "0"], runner=runner).ok
    session = runner.device.session_dir
    control = runner.device._control_dir
    assert session and os.path.isdir(session)
    assert control and os.path.exists(os.path.join(control, "master"))
    close_all()
    assert not os.path.exists(session)
    assert not os.path.exists(control)
    shutil.rmtree("/tmp/xarch-close-test", ignore_errors=True)


def test_unreachable_device_is_a_clear_setup_error(sshd: Sshd, probe: Path) -> None:
    closed = dataclasses.replace(device_target(sshd),
                                 runner=f"ssh://{sshd.user}@127.0.0.1:{free_port()}")
    with pytest.raises(SetupError) as caught:
        run(closed, [str(probe), "exit", "0"])
    message = str(caught.value)
    assert "cannot connect to device ssh://" in message
    assert "Connection refused" in message


def test_device_of_the_wrong_architecture_is_refused(sshd: Sshd, probe: Path) -> None:
    wrong = device_target(sshd, base="aarch64")
    with pytest.raises(SetupError) as caught:
        run(wrong, [str(probe), "exit", "0"], check=False)
    message = str(caught.value)
    assert f"is {os.uname().machine} (uname -m)" in message
    assert "target 'aarch64'" in message


def test_wrong_key_is_a_clear_setup_error(sshd: Sshd, probe: Path, tmp_path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(tmp_path / "stranger")], check=True, timeout=30)
    stranger = device_target(sshd, ssh_identity=str(tmp_path / "stranger"))
    with pytest.raises(SetupError, match="Permission denied"):
        run(stranger, [str(probe), "exit", "0"])


def test_xarch_run_uses_the_configured_device(
    sshd: Sshd, probe: Path, tmp_path: Path
) -> None:
    config = tmp_path / "xarch.toml"
    config.write_text(
        "[target.board]\n"
        f'base = "{host_target().name}"\n'
        f'runner = "{sshd.url}"\n'
        f'ssh_identity = "{sshd.identity}"\n'
        'ssh_known_hosts = "off"\n'
    )
    env = {**os.environ, "XARCH_CONFIG": str(config)}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest_xarch.cli", "run", "--target", "board", "--",
         str(probe), "exit", "42"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert completed.returncode == 42, completed.stderr
    completed = subprocess.run(
        [sys.executable, "-m", "pytest_xarch.cli", "run", "--target", "board", "--",
         str(probe), "args", "a b", "$(c)"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert completed.stdout == "<a b>\n<$(c)>\n", completed.stderr
    listing = subprocess.run(
        [sys.executable, "-m", "pytest_xarch.cli", "targets", "--json"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    [board] = [row for row in json.loads(listing.stdout) if row["name"] == "board"]
    assert (board["runner"], board["runner_ready"]) == ("ssh", True)
    assert board["runner_status"] == f"reachable, {os.uname().machine}"


def _device_config(pytester: pytest.Pytester, sshd: Sshd) -> None:
    """An xarch.toml that logs in to the loopback device as this host's target."""
    pytester.makefile(".toml", xarch=(
        f'[target.{host_target().name}]\nssh_identity = "{sshd.identity}"\n'
        'ssh_known_hosts = "off"\n'
    ))


def test_pytest_session_on_the_device_reports_hardware(
    sshd: Sshd, probe: Path, pytester: pytest.Pytester
) -> None:
    _device_config(pytester, sshd)
    pytester.makepyfile(test_device=f"""
        import pytest
        PROBE = {str(probe)!r}

        def test_args(xarch_run):
            result = xarch_run(PROBE, "args", "a b", "$(x)")
            assert result.stdout == "<a b>\\n<$(x)>\\n"
            assert str(result.fidelity) == "hardware"

        @pytest.mark.hardware_only(reason="needs real silicon")
        def test_on_silicon(xarch_run):
            assert xarch_run(PROBE, "exit", "0").returncode == 0

        def test_hang(xarch_run):
            result = xarch_run(PROBE, "hang", "/dev/null", "/dev/null", timeout=1)
            assert result.timed_out
    """)
    host = host_target().name
    result = pytester.runpytest_subprocess(
        f"--xarch={host}", f"--xarch-runner={host}={sshd.url}", "-p", "no:cacheprovider",
        "--junitxml=junit.xml", "--xarch-report=report.json",
    )
    result.assert_outcomes(passed=3)
    report = json.loads((pytester.path / "report.json").read_text())
    assert {(r["nodeid"].split("::")[1], r["fidelity"], r["runner"]) for r in report["tests"]} == {
        (f"test_args[{host}]", "hardware", "ssh"),
        (f"test_on_silicon[{host}]", "hardware", "ssh"),
        (f"test_hang[{host}]", "hardware", "ssh"),
    }
    import xml.etree.ElementTree as ET

    fidelities = {
        p.get("value") for p in ET.parse(pytester.path / "junit.xml").getroot().iter("property")
        if p.get("name") == "xarch_fidelity"
    }
    assert fidelities == {"hardware"}


def test_an_unreachable_device_is_each_tests_error_at_setup_tried_once(
    sshd: Sshd, probe: Path, pytester: pytest.Pytester
) -> None:
    _device_config(pytester, sshd)
    pytester.makepyfile(test_device=f"""
        def test_one(xarch_run):
            xarch_run({str(probe)!r}, "exit", "0")

        def test_two(xarch_run):
            xarch_run({str(probe)!r}, "exit", "0")
    """)
    host = host_target().name
    closed = f"ssh://{sshd.user}@127.0.0.1:{free_port()}"
    result = pytester.runpytest_subprocess(
        f"--xarch={host}", f"--xarch-runner={host}={closed}", "-p", "no:cacheprovider",
    )
    outcomes = result.parseoutcomes()
    assert outcomes["errors"] == 2 and "failed" not in outcomes
    result.stdout.fnmatch_lines([
        f"*ERROR at setup of test_one?{host}?*", "*cannot connect to device ssh://*refused*",
        f"*ERROR at setup of test_two?{host}?*", "*(not retried: the connection failed*",
    ])
