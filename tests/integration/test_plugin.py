"""The pytest plugin end to end (pytester), with real QEMU runs of real cross-built binaries."""

from __future__ import annotations

import html
import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pytest_xarch.targets import host_target

from ..support.build import CrossBuilder
from ..support.tools import require_tool

pytestmark = pytest.mark.integration

HELLO = r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    printf("hello from %s\n", getenv("XARCH_TARGET"));
    return argc > 1 ? atoi(argv[1]) : 0;
}
"""


@pytest.fixture(scope="module")
def hello_binaries(cross_build: CrossBuilder) -> dict[str, Path]:
    """hello for aarch64, armv7 and the host, built once."""
    require_tool("qemu-aarch64", "qemu-user")
    return {name: cross_build.build(name, HELLO, name="hello") for name in
            ("aarch64", "armv7", "x86_64")}


@pytest.fixture
def suite(pytester: pytest.Pytester, hello_binaries: dict[str, Path]) -> pytest.Pytester:
    """A small user suite whose tests run hello for the current target."""
    binaries = json.dumps({name: str(path) for name, path in hello_binaries.items()})
    pytester.makeconftest(f"""
import pytest
BINARIES = {binaries}

@pytest.fixture
def hello(xarch_target):
    return BINARIES[xarch_target.name]
""")
    pytester.makepyfile(test_suite="""
import pytest

def test_hello(xarch_run, hello, xarch_target):
    result = xarch_run(hello)
    assert result.returncode == 0
    assert result.stdout == f"hello from {xarch_target.name}\\n"

def test_exit_status(xarch_run, hello):
    assert xarch_run(hello, 7).returncode == 7

def test_static(xarch_target):
    assert xarch_target.name

@pytest.mark.xarch("armv7", "riscv64")
def test_only_arm(xarch_target):
    assert xarch_target.name == "armv7"

@pytest.mark.xarch(skip=["aarch64"])
def test_not_aarch64(xarch_target):
    assert xarch_target.name != "aarch64"

@pytest.mark.xarch("riscv64")
def test_riscv_only(xarch_target):
    pass

@pytest.mark.hardware_only(reason="measures cache timing")
def test_on_silicon(xarch_run, hello):
    assert xarch_run(hello).returncode == 0

def test_not_xarch():
    pass
""")
    return pytester


def _test_ids(result: pytest.RunResult) -> list[str]:
    return [line.split(" ")[0] for line in result.outlines if line.startswith("test_suite.py::")]


def test_parametrizes_in_given_order_with_target_ids(suite: pytest.Pytester) -> None:
    spellings = "--xarch=armhf,aarch64-unknown-linux-gnu,arm64"
    result = suite.runpytest(spellings, "--collect-only", "-q")
    ids = [line for line in result.outlines if "test_hello" in line]
    assert ids == ["test_suite.py::test_hello[armv7]", "test_suite.py::test_hello[aarch64]"]


def test_results_carry_fidelity_and_markers_restrict(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--xarch=aarch64,armv7,x86_64", "-v", "-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=14, skipped=2, deselected=1)
    for line in (
        "*test_hello?aarch64? PASSED ?emulated?*",
        "*test_hello?x86_64? PASSED ?native?*",
        "*test_static?armv7? PASSED ?static?*",
        "SKIPPED * aarch64 runs under qemu-aarch64 * -cpu cortex-a53 here; "
        "needs real hardware: measures cache timing",
        "*test_on_silicon?x86_64? PASSED ?native?*",
    ):
        result.stdout.fnmatch_lines([line])
    ids = _test_ids(result)
    assert "test_suite.py::test_only_arm[armv7]" in ids
    assert not any("test_only_arm[aarch64]" in i or "test_only_arm[x86_64]" in i for i in ids)
    assert "test_suite.py::test_not_aarch64[aarch64]" not in ids
    assert "test_suite.py::test_not_aarch64[x86_64]" in ids
    result.stdout.fnmatch_lines([
        "*xarch fidelity matrix*",
        "aarch64 *qemu-aarch64 * -cpu cortex-a53 * 3 * 0 * 1 * 0 *emulated*",
        "armv7 *qemu-arm * -cpu cortex-a7 * 5 * 0 * 1 * 0 *emulated*",
        "x86_64 *native * 5 * 0 * 0 * 0 *native*",
        "hardware-only tests not proven on real silicon:",
        "*aarch64: test_suite.py::test_on_silicon?aarch64?",
        "deselected: no selected target left by @pytest.mark.xarch:",
        "*test_suite.py::test_riscv_only (selected targets: aarch64, armv7, x86_64; "
        "marker allows: riscv64)",
    ])


def test_min_fidelity_marker_runs_a_test_only_where_its_runner_reaches_the_level(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(test_levels="""
import pytest

@pytest.mark.xarch_min_fidelity("native", reason="reads /proc/cpuinfo")
def test_needs_silicon(xarch_run, hello):
    assert xarch_run(hello).returncode == 0

@pytest.mark.xarch_min_fidelity("system")
def test_needs_a_kernel(xarch_run, hello):
    assert xarch_run(hello).returncode == 0

@pytest.mark.xarch_min_fidelity("emulated")
def test_emulation_will_do(xarch_run, hello):
    assert xarch_run(hello).returncode == 0
""")
    result = suite.runpytest("test_levels.py", "--xarch=aarch64,x86_64", "-v", "-rs",
                             "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, skipped=2)
    for line in (
        "*test_needs_silicon?x86_64? PASSED ?native?*",
        "*test_needs_a_kernel?x86_64? PASSED ?native?*",  # native is above system
        "*test_emulation_will_do?aarch64? PASSED ?emulated?*",
        "SKIPPED * aarch64 runs under qemu-aarch64 * (emulated) here; needs fidelity native "
        "or above: reads /proc/cpuinfo",
        "SKIPPED * aarch64 runs under qemu-aarch64 * (emulated) here; needs fidelity system "
        "or above",
    ):
        result.stdout.fnmatch_lines([line])


def test_indirect_parametrization_by_hand(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_manual="""
import pytest

@pytest.mark.parametrize("xarch_target", ["armhf"], indirect=True)
def test_manual(xarch_run, hello, xarch_target):
    assert xarch_target.name == "armv7"
    assert xarch_run(hello).fidelity == "emulated"
""")
    result = suite.runpytest("test_manual.py", "--xarch=aarch64", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_manual?armhf? PASSED ?emulated?*"])


def test_junit_xml_and_json_report(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "--xarch=aarch64,x86_64", "--junitxml=junit.xml", "--xarch-report=out/report.json"
    )
    assert result.ret == 0
    cases = ET.parse(suite.path / "junit.xml").getroot().iter("testcase")
    props = {
        f"{case.get('name')}": {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in cases
    }
    assert props["test_hello[aarch64]"]["xarch_fidelity"] == "emulated"
    assert props["test_hello[aarch64]"]["xarch_runner"] == "qemu"
    assert props["test_hello[aarch64]"]["xarch_cpu"] == "cortex-a53"
    assert props["test_hello[aarch64]"]["xarch_qemu"][0].isdigit()
    assert props["test_hello[x86_64]"]["xarch_fidelity"] == "native"
    assert props["test_static[aarch64]"]["xarch_fidelity"] == "static"
    assert props["test_on_silicon[aarch64]"]["xarch_unproven"] == "measures cache timing"
    assert "xarch_target" not in props.get("test_not_xarch", {})

    report = json.loads((suite.path / "out" / "report.json").read_text())
    tests = {record["nodeid"]: record for record in report["tests"]}
    hello = tests["test_suite.py::test_hello[aarch64]"]
    assert hello["outcome"] == "passed"
    assert (hello["target"], hello["fidelity"], hello["runner"], hello["cpu"]) == (
        "aarch64", "emulated", "qemu", "cortex-a53")
    assert hello["qemu_version"] and hello["duration"] > 0
    assert tests["test_suite.py::test_on_silicon[aarch64]"]["outcome"] == "skipped"
    assert "test_suite.py::test_not_xarch" not in tests
    targets = {record["target"]: record for record in report["targets"]}
    assert targets["aarch64"]["fidelity"] == "emulated"
    assert targets["x86_64"]["runner"] == "native"
    assert targets["aarch64"]["counts"] == {"passed": 3, "failed": 0, "skipped": 1, "error": 0}
    assert [d["nodeid"] for d in report["deselected"]] == [
        "test_suite.py::test_only_arm", "test_suite.py::test_riscv_only"
    ]


def test_min_fidelity_fails_the_session_and_names_tests(suite: pytest.Pytester) -> None:
    ok = suite.runpytest("--xarch=aarch64", "--xarch-min-fidelity=emulated", "-k", "hello")
    assert ok.ret == 0
    low = suite.runpytest("--xarch=aarch64,x86_64", "--xarch-min-fidelity=native", "-k", "hello")
    assert low.ret == pytest.ExitCode.TESTS_FAILED
    low.assert_outcomes(passed=2)
    low.stdout.fnmatch_lines([
        "*below --xarch-min-fidelity=native: 1 test(s)*",
        "*test_suite.py::test_hello?aarch64?: emulated*",
    ])
    assert "test_hello[x86_64]: " not in low.stdout.str()


def test_without_min_fidelity_exit_status_is_unchanged(suite: pytest.Pytester) -> None:
    assert suite.runpytest("--xarch=aarch64", "-k", "hello").ret == 0


def test_default_targets_come_from_config_then_host(suite: pytest.Pytester) -> None:
    host = suite.runpytest("--collect-only", "-q", "-k", "test_static")
    host.stdout.fnmatch_lines([f"test_suite.py::test_static[[]{host_target().name}[]]"])
    suite.makefile(".toml", xarch='targets = ["armv7"]\n')
    configured = suite.runpytest("--collect-only", "-q", "-k", "test_static")
    configured.stdout.fnmatch_lines(["test_suite.py::test_static[[]armv7[]]"])


def test_precedence_cli_over_env_over_file_over_ini(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makeini("[pytest]\nxarch_targets = riscv64\n")

    def selected(*args: str) -> list[str]:
        result = suite.runpytest("--collect-only", "-q", "-k", "test_static", *args)
        return [line.split("[")[1].rstrip("]") for line in result.outlines if "[" in line]

    assert selected() == ["riscv64"]
    suite.makefile(".toml", xarch='targets = ["armv7"]\n')
    assert selected() == ["armv7"]
    monkeypatch.setenv("XARCH_TARGETS", "aarch64")
    assert selected() == ["aarch64"]
    assert selected("--xarch=x86_64,armv7") == ["x86_64", "armv7"]


def test_defined_target_from_pyproject(suite: pytest.Pytester) -> None:
    suite.makepyprojecttoml("""
[tool.pytest_xarch]
targets = ["rpi-test", "old-board"]

[tool.pytest_xarch.target.rpi-test]
base = "aarch64"
cpu = "cortex-a72"
glibc = "2.36"

[tool.pytest_xarch.target.old-board]
base = "rpi-test"
glibc = "2.31"
""")
    suite.makepyfile(test_defined="""
def test_defined(xarch_run, xarch_target):
    import conftest
    result = xarch_run(conftest.BINARIES["aarch64"])
    assert result.returncode == 0
    assert result.cpu == "cortex-a72"
""")
    result = suite.runpytest("test_defined.py", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_defined?rpi-test? PASSED ?emulated?*"])
    # The binary needs glibc 2.34: the run fails before QEMU starts, saying why.
    result.stdout.fnmatch_lines([
        "*hello cannot run on target 'old-board' (static check*",
        "*glibc-too-new: requires GLIBC_2.34 * but target 'old-board' has glibc 2.31*",
    ])


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("targets = [\n", "*xarch.toml: invalid TOML*"),
        ("colour = 1\n", "*xarch.toml: unknown key 'colour' (known keys: targets*"),
        ("timeout = \"slow\"\n", "*'timeout' = 'slow' is invalid: expected a positive number*"),
        ("[target.x]\nbase = \"aarch65\"\n",
         "*[[]target.x[]] base: unknown target 'aarch65'. Did you mean 'aarch64'?*"),
        ("[target.x]\ncpu = \"a72\"\n", "*[[]target.x[]] needs `base = *"),
        ("[target.x]\nbase = \"aarch64\"\npage_size = 1000\n",
         "*'target.x.page_size' = 1000 is invalid: expected a power of two*"),
    ],
)
def test_malformed_config_is_a_usage_error(
    pytester: pytest.Pytester, content: str, expected: str
) -> None:
    pytester.makefile(".toml", xarch=content)
    pytester.makepyfile("def test_x(xarch_target): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {expected}"])
    assert "Traceback" not in result.stderr.str()


def test_unknown_target_lists_known_and_nearest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(xarch_target): pass")
    result = pytester.runpytest("--xarch=aarch64,riscv46")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: unknown target 'riscv46'. Did you mean 'riscv64'? Known targets: aarch64, armv7*"
    ])


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ('@pytest.mark.xarch("aarch64", only=["x"])',
         "*unexpected argument(s) only; use @pytest.mark.xarch(*targets: str, skip=*"),
        ('@pytest.mark.xarch(64)', "*targets must be target names (strings)*"),
        ('@pytest.mark.xarch("sparc")', "*unknown target 'sparc'*"),
        ('@pytest.mark.hardware_only("a", "b")',
         "*bad arguments; use @pytest.mark.hardware_only(reason=*"),
        ('@pytest.mark.hardware_only(reason=3)', "*reason must be a string*"),
        ('@pytest.mark.xarch_min_fidelity("silicon")',
         "*unknown fidelity level 'silicon': expected one of static, emulated, system, native, "
         "hardware (in @pytest.mark.xarch_min_fidelity(*"),
        ('@pytest.mark.xarch_min_fidelity()', "*bad arguments; use "
         "@pytest.mark.xarch_min_fidelity(*"),
    ],
)
def test_bad_marker_arguments_quote_the_signature(
    pytester: pytest.Pytester, marker: str, expected: str
) -> None:
    pytester.makepyfile(f"import pytest\n\n{marker}\ndef test_x(xarch_target): pass\n")
    result = pytester.runpytest("--xarch=aarch64")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {expected}"])


def test_markers_are_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
import pytest

@pytest.mark.xarch("aarch64")
@pytest.mark.hardware_only(reason="r")
def test_x(xarch_target): pass
""")
    result = pytester.runpytest("--strict-markers", "--xarch=aarch64")
    result.assert_outcomes(skipped=1)


def test_runner_override_from_command_line_is_validated(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(xarch_target): pass")
    result = pytester.runpytest("--xarch=aarch64", "--xarch-runner=aarch64")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --xarch-runner 'aarch64': expected TARGET=RUNNER*"])


def test_xdist_run_matches_serial_run(suite: pytest.Pytester) -> None:
    require_tool("qemu-arm", "qemu-user")
    args = ("--xarch=aarch64,armv7,x86_64", "-p", "no:cacheprovider")
    serial = suite.runpytest_subprocess(*args, "--xarch-report=serial.json")
    parallel = suite.runpytest_subprocess(*args, "-n", "2", "--xarch-report=parallel.json")
    assert serial.ret == parallel.ret == 0

    def matrix(result: pytest.RunResult) -> list[str]:
        lines = result.outlines
        start = next(i for i, line in enumerate(lines) if "xarch fidelity matrix" in line)
        end = next(i for i, line in enumerate(lines) if i > start and line.startswith("====="))
        return lines[start:end]

    assert matrix(parallel) == matrix(serial)

    def normalized(name: str) -> dict[str, object]:
        report = json.loads((suite.path / name).read_text())
        for record in report["tests"]:
            record.pop("duration")
        report["tests"].sort(key=lambda record: record["nodeid"])
        return report

    assert normalized("parallel.json") == normalized("serial.json")


def test_collection_errors_stay_ordinary_errors(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import no_such_module\n\ndef test_x(xarch_target): pass\n")
    result = pytester.runpytest("--xarch=aarch64")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ModuleNotFoundError: No module named 'no_such_module'*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_a_failed_test_says_how_to_run_its_runs_again_by_hand(
    suite: pytest.Pytester,
) -> None:
    """The report's "xarch runs" section: each run's outcome and a shell line that does the
    same again; run here, that line exits as the run did."""
    suite.makepyfile(test_fails="""
        import sys

        def test_wrong_status(xarch_run, hello):
            first = xarch_run(hello)
            second = xarch_run(hello, 3, env={"SAMPLE": "x y"})
            print("stderr of the test itself", file=sys.stderr)
            assert second.returncode == 0
    """)
    result = suite.runpytest("--xarch=aarch64", "-p", "no:cacheprovider", "test_fails.py")
    assert result.parseoutcomes() == {"failed": 1}
    result.stdout.fnmatch_lines([
        "*- xarch runs -*",
        "run 1: */hello ?aarch64, qemu-aarch64*?: exit 0",
        "  by hand: *qemu-aarch64 -L * -cpu cortex-a53 */hello",
        "run 2: */hello 3 ?aarch64, qemu-aarch64*?: exit 3",
    ])
    line = next(text for text in result.outlines if text.startswith("  by hand: ")
                and text.endswith("/hello 3"))
    assert "'SAMPLE=x y'" in line and "-D " not in line  # no scratch file of the run
    again = subprocess.run(["sh", "-c", line.removeprefix("  by hand: ")],
                           capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode == 3
    assert again.stdout == "hello from aarch64\n"


def test_a_runner_that_cannot_run_is_an_error_at_setup(suite: pytest.Pytester) -> None:
    """A set-up problem (here a CPU model this QEMU lacks) is the test's error at set-up,
    with the fix, not a failure tagged static."""
    suite.makefile(".toml", xarch='[target.aarch64]\ncpu = "no-such-cpu"\n')
    result = suite.runpytest("--xarch=aarch64", "-p", "no:cacheprovider", "-k", "test_hello")
    assert result.parseoutcomes()["errors"] == 1 and "failed" not in result.parseoutcomes()
    result.stdout.fnmatch_lines([
        "*ERROR at setup of test_hello?aarch64?*",
        "target 'aarch64' needs CPU model 'no-such-cpu', which qemu-aarch64 * does not have*",
    ])


def test_pytest_html_gets_target_and_fidelity_columns(suite: pytest.Pytester) -> None:
    pytest.importorskip("pytest_html")
    result = suite.runpytest("--xarch=aarch64", "-p", "no:cacheprovider", "-k", "test_hello",
                             "--html=report.html", "--self-contained-html")
    assert result.parseoutcomes()["passed"] == 1
    page = (suite.path / "report.html").read_text()
    assert 'data-column-type="xarch-fidelity"' in page
    # pytest-html keeps the rows as JSON in an attribute of the page.
    blob = re.search(r'data-jsonblob="([^"]*)"', page)
    assert blob, "no data-jsonblob in the page"
    data = json.loads(html.unescape(blob.group(1)))
    rows = [row for tests in data["tests"].values() for row in tests]
    cells = [cell for row in rows for cell in row["resultsTableRow"]]
    assert '<td class="col-xarch-target">aarch64</td>' in cells
    assert '<td class="col-xarch-fidelity">emulated</td>' in cells


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_the_canary_verdict_is_in_the_summary(suite: pytest.Pytester,
                                              workers: tuple[str, ...]) -> None:
    result = suite.runpytest_subprocess("--xarch=aarch64", "--xarch-canary", "-k",
                                        "test_static", "-p", "no:cacheprovider", *workers)
    assert result.parseoutcomes()["passed"] == 1
    result.stdout.fnmatch_lines(
        ["canary on target 'aarch64' [[]qemu-aarch64 * -cpu cortex-a53*[]]: ok (* probes)"])
