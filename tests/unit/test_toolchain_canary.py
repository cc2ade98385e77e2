"""How canary output is judged: the first failed probe, crashes mid-probe, bad exits.

Real canaries on real targets: tests/integration/test_canary.py.
"""

from __future__ import annotations

from pytest_xarch.canary import CanaryResult, judge, parse_output
from pytest_xarch.fidelity import Fidelity
from pytest_xarch.runners import RunResult

PLAN = "xarch-canary plan pointer-size threads malloc\n"


def _ran(stdout: str, returncode: int = 0, signal: int | None = None,
         stderr: str = "") -> RunResult:
    return RunResult(
        args=["canary"], returncode=returncode, stdout=stdout, stderr=stderr, target="aarch64",
        runner="qemu", fidelity=Fidelity.EMULATED,
        runner_description="qemu-aarch64 7.2.22 -cpu cortex-a53", signal=signal,
    )


def _judge(stdout: str, **kwargs: object) -> tuple[bool, CanaryResult]:
    result = CanaryResult("aarch64")
    return judge(result, "c", _ran(stdout, **kwargs)), result  # type: ignore[arg-type]


def test_parse_reads_plan_probes_and_closing_line() -> None:
    parsed = parse_output(PLAN + "pointer-size ok 64-bit\nthreads FAIL no threads\nnoise\n"
                          "xarch-canary FAIL threads\n")
    assert parsed.plan == ["pointer-size", "threads", "malloc"]
    assert [(p.name, p.ok, p.detail) for p in parsed.probes] == [
        ("pointer-size", True, "64-bit"), ("threads", False, "no threads")]
    assert parsed.finished


def test_all_probes_ok() -> None:
    ok, result = _judge(PLAN + "pointer-size ok a\nthreads ok b\nmalloc ok c\nxarch-canary ok\n")
    assert ok and result.ok and result.failed_probe is None
    assert result.fidelity == Fidelity.EMULATED
    assert result.summary().endswith(": ok (3 probes)")


def test_first_failed_probe_is_named_with_its_detail() -> None:
    ok, result = _judge(
        PLAN + "pointer-size ok a\nthreads FAIL pthread_create: EAGAIN\nmalloc FAIL NULL\n"
        "xarch-canary FAIL threads\n", returncode=1)
    assert not ok and result.failed_probe == "threads"
    assert result.reason == "pthread_create: EAGAIN"
    assert "failed at probe 'threads': pthread_create: EAGAIN" in result.explain()


def test_a_crash_inside_a_probe_names_that_probe() -> None:
    ok, result = _judge(PLAN + "pointer-size ok a\n", returncode=-11, signal=11)
    assert not ok and result.failed_probe == "threads"
    assert result.reason == "did not finish: killed by SIGSEGV"


def test_no_plan_means_the_program_did_not_start() -> None:
    ok, result = _judge("", returncode=1, stderr="qemu-aarch64: Could not open '/lib/ld.so.1'\n")
    assert not ok and result.failed_probe == "startup"
    assert "did not start: exit 1 (qemu-aarch64: Could not open '/lib/ld.so.1')" in result.reason


def test_a_bad_exit_after_every_probe_passed_is_reported() -> None:
    ok, result = _judge(PLAN + "pointer-size ok a\nthreads ok b\nmalloc ok c\n",
                        returncode=-6, signal=6)
    assert not ok and result.failed_probe == "exit"
    assert "killed by SIGABRT" in result.reason


def test_to_dict_is_json_ready() -> None:
    _, result = _judge(PLAN + "pointer-size FAIL 32-bit\n", returncode=1)
    data = result.to_dict()
    assert data["ok"] is False and data["failed_probe"] == "pointer-size"
    assert data["fidelity"] == "emulated"
    assert data["probes"] == [{"name": "pointer-size", "ok": False, "detail": "32-bit"}]
