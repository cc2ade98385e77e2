"""Collector internals without QEMU: output parsers, batch recovery, options, cache, ctest rules."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import pytest

from pytest_xarch.collect.base import (
    BatchReport,
    CaseKeys,
    CaseResult,
    Framework,
    ListingError,
    unique_names,
)
from pytest_xarch.collect.batch import BinaryRunner
from pytest_xarch.collect.catch2 import Catch2, parse_xml_stream, spec_escape
from pytest_xarch.collect.ctest import CTestCase, evaluate, parse_test, strip_emulator
from pytest_xarch.collect.doctest import Doctest
from pytest_xarch.collect.gotest import GoTest, parse_verbose
from pytest_xarch.collect.gtest import GoogleTest, parse_console, parse_xml
from pytest_xarch.collect.identify import matches_patterns
from pytest_xarch.collect.listing import cached_listing
from pytest_xarch.collect.options import CollectOptions
from pytest_xarch.collect.rust import RustTest
from pytest_xarch.errors import ConfigError
from pytest_xarch.fidelity import Fidelity
from pytest_xarch.runners import NativeRunner, RunResult
from pytest_xarch.targets import resolve_target


def result(stdout: str = "", *, returncode: int = 0, signal: Optional[int] = None,
           timed_out: bool = False, stderr: str = "") -> RunResult:
    return RunResult(args=["prog"], returncode=returncode, stdout=stdout, stderr=stderr,
                     target="x86_64", runner="native", fidelity=Fidelity.NATIVE,
                     runner_description="native", signal=signal, timed_out=timed_out,
                     timeout=5.0)


GTEST_LIST = """Running main() from gtest_main.cc
Math.
  Adds
  Fails
Small/Square.  # TypeParam = int
  NonNegative/0  # GetParam() = -2
"""

GTEST_CONSOLE = """[==========] Running 3 tests from 2 test suites.
[ RUN      ] Math.Adds
hello from Adds
[       OK ] Math.Adds (3 ms)
[ RUN      ] Math.Fails
sample.cc:12: Failure
Expected equality
[  FAILED  ] Math.Fails (0 ms)
[ RUN      ] Small/Square.NonNegative/0
[  FAILED  ] Small/Square.NonNegative/0, where GetParam() = -2 (1 ms)
[ RUN      ] Crash.Segfault
about to crash
"""


def test_gtest_listing_joins_suites_and_drops_comments() -> None:
    assert GoogleTest().parse_list(GTEST_LIST) == [
        "Math.Adds", "Math.Fails", "Small/Square.NonNegative/0"]


def test_gtest_console_gives_results_and_the_running_case() -> None:
    report = parse_console(GTEST_CONSOLE)
    assert {name: r.outcome for name, r in report.results.items()} == {
        "Math.Adds": "passed", "Math.Fails": "failed", "Small/Square.NonNegative/0": "failed"}
    assert report.results["Math.Adds"].output == "hello from Adds"
    assert report.results["Math.Adds"].duration == 0.003
    assert "sample.cc:12: Failure" in report.results["Math.Fails"].message
    assert (report.running, report.running_output) == ("Crash.Segfault", "about to crash")


def test_gtest_xml_report_gives_messages_and_skips(tmp_path: Path) -> None:
    (tmp_path / "r.xml").write_text(
        '<testsuites><testsuite name="Math">'
        '<testcase name="Fails" classname="Math" time="0.5"><failure message="m">'
        'sample.cc:12\nExpected</failure></testcase>'
        '<testcase name="Skip" classname="Math" result="skipped">'
        '<skipped message="sample.cc:15&#x0A;not here"/></testcase>'
        '<testcase name="Adds" classname="Math"/></testsuite></testsuites>'
    )
    found = parse_xml(tmp_path / "r.xml")
    assert found["Math.Fails"].outcome == "failed"
    assert found["Math.Fails"].message == "sample.cc:12\nExpected"
    assert found["Math.Fails"].duration == 0.5
    assert (found["Math.Skip"].outcome, found["Math.Skip"].message) == (
        "skipped", "sample.cc:15\nnot here")
    assert found["Math.Adds"].outcome == "passed"
    assert parse_xml(tmp_path / "absent.xml") == {}


def test_gtest_filter_names_every_case(tmp_path: Path) -> None:
    args = GoogleTest().run_args(["A.b", "C.d"], tmp_path)
    assert args[0] == "--gtest_filter=A.b:C.d"
    assert f"--gtest_output=xml:{tmp_path / 'gtest-report.xml'}" in args


CATCH2_XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<Catch name="t">
  <Group name="t">
    <TestCase name="adds" filename="a.cpp" line="8">
      <OverallResult success="true" durationInSeconds="0.25"/>
    </TestCase>
    <TestCase name="fails" filename="a.cpp" line="10">
      <Expression success="false" type="CHECK" filename="a.cpp" line="12">
        <Original>answer == 42</Original>
        <Expanded>41 == 42</Expanded>
      </Expression>
      <OverallResult success="false"/>
    </TestCase>
    <TestCase name="skips" filename="a.cpp" line="14">
      <Skip filename="a.cpp" line="15">not here</Skip>
      <OverallResult success="true" skips="1"/>
    </TestCase>
    <TestCase name="hangs" filename="a.cpp" line="20">
"""


def test_catch2_truncated_report_keeps_finished_cases_and_names_the_running_one() -> None:
    report = parse_xml_stream(CATCH2_XML)
    assert {n: r.outcome for n, r in report.results.items()} == {
        "adds": "passed", "fails": "failed", "skips": "skipped"}
    assert report.results["adds"].duration == 0.25
    assert report.results["fails"].message.startswith("a.cpp:12: CHECK( answer == 42 )")
    assert "41 == 42" in report.results["fails"].message
    assert report.results["skips"].message == "not here"
    assert report.running == "hangs"


def test_catch2_listing_and_spec_escaping() -> None:
    assert Catch2().parse_list('adds\n"#file tagged"\nsections pass\n') == [
        "adds", "#file tagged", "sections pass"]
    assert spec_escape("a,b [x]") == "a\\,b \\[x\\]"
    assert spec_escape("~neg*") == "\\~neg\\*"


def test_catch2_v3_listing_falls_back(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def launch(args: Sequence[str], timeout: Optional[float]) -> RunResult:
        calls.append(list(args))
        if "--list-test-names-only" in args:
            return result("", returncode=255, stderr="Unrecognised token: --list-test-names-only")
        return result("one\ntwo\n")

    assert Catch2().list_cases(launch) == ["one", "two"]
    assert calls[1] == ["--list-tests", "--verbosity", "quiet"]


def test_doctest_listing() -> None:
    out = ("[doctest] doctest version is \"2.4.9\"\n" + "=" * 79 + "\n"
           "[doctest] listing all test case names\n" + "=" * 79 + "\nadds\nfails\n"
           + "=" * 79 + "\n[doctest] unskipped test cases passing the current filters: 2\n")
    assert Doctest().parse_list(out) == ["adds", "fails"]
    assert Doctest().run_args(["a,b", "c"], Path("/s"))[0] == "--test-case=a\\,b,c"


GO_VERBOSE = """=== RUN   TestPass
    x_test.go:11: logged
--- PASS: TestPass (0.01s)
=== RUN   TestSub
=== RUN   TestSub/inner
    x_test.go:30: inner failed
--- FAIL: TestSub (0.00s)
    --- FAIL: TestSub/inner (0.00s)
=== RUN   TestSkip
    x_test.go:21: not here
--- SKIP: TestSkip (0.00s)
=== RUN   TestHang
"""


def test_go_verbose_output_like_test2json() -> None:
    report = parse_verbose(GO_VERBOSE)
    assert {n: r.outcome for n, r in report.results.items()} == {
        "TestPass": "passed", "TestSub": "failed", "TestSub/inner": "failed",
        "TestSkip": "skipped"}
    assert list(report.results) == ["TestPass", "TestSub", "TestSub/inner", "TestSkip"]
    assert report.results["TestPass"].output == "    x_test.go:11: logged"
    assert "x_test.go:30: inner failed" in report.results["TestSub/inner"].message
    assert "its subtest(s) failed: TestSub/inner" in report.results["TestSub"].message
    assert report.results["TestSkip"].message == "    x_test.go:21: not here"
    assert report.running == "TestHang"


def test_go_listing_and_run_filter() -> None:
    listed = GoTest().parse_list("TestA\nBenchmarkB\nExampleC\nok  \tpkg\t0.1s\n")
    assert listed == ["TestA", "ExampleC"]
    args = GoTest().run_args(["TestA", "TestB"], Path("/s"))
    assert args[-2:] == ["-test.run", "^(TestA|TestB)$"]


def test_go_panic_text_goes_to_the_failing_test() -> None:
    out = "=== RUN   TestCrash\n--- FAIL: TestCrash (0.00s)\n"
    report = GoTest().parse_run(result(out, returncode=2, stderr="panic: boom\n"), ["TestCrash"],
                                Path("/s"))
    assert "panic: boom" in report.results["TestCrash"].message


RUST_OUT = """
running 4 tests
test tests::fails ... FAILED
test tests::ignored ... ignored, not on this target
test tests::passes ... ok
""" + "test tests::aborts ... \n"  # started, never finished (the trailing space is libtest's)


def test_rust_libtest_output() -> None:
    listing = RustTest().parse_list("tests::a: test\ntests::b: bench\n")
    assert listing == ["tests::a"]
    report = RustTest().parse_run(result(RUST_OUT), [], Path("/s"))
    assert {n: r.outcome for n, r in report.results.items()} == {
        "tests::fails": "failed", "tests::ignored": "skipped", "tests::passes": "passed"}
    assert report.results["tests::ignored"].message == "not on this target"
    assert report.running == "tests::aborts"


class Scripted(Framework):
    """A framework whose launches follow a script: each case name maps to what it does."""

    name = "scripted"

    def __init__(self, behaviour: dict[str, str], tell_running: bool = True) -> None:
        self.behaviour = behaviour
        self.tell_running = tell_running

    def list_args(self) -> list[str]:
        return []

    def parse_list(self, stdout: str) -> list[str]:
        return list(self.behaviour)

    def run_args(self, cases: Sequence[str], scratch: Path) -> list[str]:
        return list(cases)

    def parse_run(self, run: RunResult, cases: Sequence[str], scratch: Path) -> BatchReport:
        report = BatchReport()
        for case in cases:
            what = self.behaviour[case]
            if what in ("crash", "hang", "exit"):
                report.running = case if self.tell_running else None
                break
            report.results[case] = CaseResult(what)
        return report


def scripted_runner(framework: Scripted) -> tuple[BinaryRunner, list[list[str]]]:
    target = resolve_target("x86_64")
    runner = BinaryRunner(Path("/bin/true"), framework, target, NativeRunner(target))
    launches: list[list[str]] = []

    def launch(args: Sequence[str], timeout: Optional[float], watch: object = None
               ) -> RunResult:
        launches.append(list(args))
        runner.launches += 1
        kinds = [framework.behaviour[name] for name in args]
        for kind in kinds:
            if kind == "crash":
                return result(returncode=-11, signal=11)
            if kind == "hang":
                return result(returncode=-9, timed_out=True)
            if kind == "exit":
                return result(returncode=3)
        return result()

    runner.launch = launch  # type: ignore[method-assign]
    return runner, launches


def test_batch_is_one_launch_when_nothing_crashes() -> None:
    runner, launches = scripted_runner(Scripted({"a": "passed", "b": "failed", "c": "skipped"}))
    outcomes = runner.run_cases(["a", "b", "c"])
    assert {n: o.result.outcome for n, o in outcomes.items()} == {
        "a": "passed", "b": "failed", "c": "skipped"}
    assert launches == [["a", "b", "c"]]


def test_crash_mid_batch_blames_the_running_case_and_reruns_the_rest() -> None:
    runner, launches = scripted_runner(
        Scripted({"a": "passed", "b": "crash", "c": "passed", "d": "hang", "e": "passed"}))
    outcomes = runner.run_cases(["a", "b", "c", "d", "e"])
    assert {n: o.result.outcome for n, o in outcomes.items()} == {
        "a": "passed", "b": "failed", "c": "passed", "d": "failed", "e": "passed"}
    assert "killed by SIGSEGV" in outcomes["b"].result.message
    assert "timed out" in outcomes["d"].result.message
    assert outcomes["b"].stopped and not outcomes["c"].stopped
    assert launches == [["a", "b", "c", "d", "e"], ["c", "d", "e"], ["e"]]


def test_unknown_running_case_falls_back_to_one_launch_each() -> None:
    runner, launches = scripted_runner(
        Scripted({"a": "passed", "b": "exit", "c": "passed"}, tell_running=False))
    outcomes = runner.run_cases(["a", "b", "c"])
    assert outcomes["b"].result.outcome == "failed"
    assert "while b was running" in outcomes["b"].result.message
    assert outcomes["c"].result.outcome == "passed"
    assert launches == [["a", "b", "c"], ["b", "c"], ["b"], ["c"]]


def test_isolate_runs_one_launch_per_case() -> None:
    runner, launches = scripted_runner(Scripted({"a": "passed", "b": "passed"}))
    runner.run_cases(["a", "b"], isolate=True)
    assert launches == [["a"], ["b"]]


def test_batch_limit_is_per_case_times_cases_capped_by_binary_timeout() -> None:
    target = resolve_target("x86_64")
    runner = BinaryRunner(Path("/bin/true"), Scripted({}), target, NativeRunner(target),
                          case_timeout=2, binary_timeout=5)
    assert (runner.limit(1), runner.limit(2), runner.limit(10)) == (2, 4, 5)


def test_listing_cache_stores_atomically(tmp_path: Path) -> None:
    calls = []

    def compute() -> list[str]:
        calls.append(1)
        return ["a", "b"]

    assert cached_listing(tmp_path, "k", compute) == ["a", "b"]
    assert cached_listing(tmp_path, "k", compute) == ["a", "b"]
    assert len(calls) == 1
    assert json.loads((tmp_path / "listings" / "k.json").read_text()) == ["a", "b"]
    assert not list((tmp_path / "listings").glob(".listing-*"))
    (tmp_path / "listings" / "k.json").write_text("{half")  # a corrupt entry is recomputed
    assert cached_listing(tmp_path, "k", compute) == ["a", "b"]
    assert len(calls) == 2


def test_options_come_from_the_settings_with_workdirs_relative_to_the_file(
    tmp_path: Path,
) -> None:
    from pytest_xarch.collect.options import options_from
    from pytest_xarch.settings import load_settings

    (tmp_path / "xarch.toml").write_text(
        "[collect]\npatterns = [\"*_check\"]\nisolate = [\"flaky_*\"]\ncase_timeout = 3\n"
        "go_subtests = false\n[collect.workdir]\n\"go/*.test\" = \"src/go\"\n")
    options = options_from(load_settings(tmp_path, environ={}))
    assert options.patterns == ("*_check",)
    assert options.go_subtests is False
    from pytest_xarch.collect.identify import framework_for

    assert framework_for("go", "x.test", options).discovers is False
    assert framework_for("go", "x.test", CollectOptions()).discovers is True
    assert options.isolated(Path("flaky_one")) and not options.isolated(Path("steady"))
    assert options.case_timeout == 3.0
    assert options.workdir(tmp_path / "go" / "x.test") == (tmp_path / "src" / "go").resolve()
    with pytest.raises(ConfigError, match=r"unknown key 'collect.patern' \(known keys: "):
        (tmp_path / "xarch.toml").write_text("[collect]\npatern = []\n")
        load_settings(tmp_path, environ={})
    with pytest.raises(ConfigError, match=r"'collect.case_timeout' = -1 is invalid"):
        (tmp_path / "xarch.toml").write_text("[collect]\ncase_timeout = -1\n")
        load_settings(tmp_path, environ={})


def test_name_patterns() -> None:
    defaults = CollectOptions().patterns
    for name in ("test_math", "math_test", "math_tests", "math_unittest", "pkg.test"):
        assert matches_patterns(Path("build") / name, defaults)
    for name in ("math", "testing.c", "libtest.so"):
        assert not matches_patterns(Path("build") / name, defaults)
    assert matches_patterns(Path("/r/build/go/x"), ["build/go/*"])


def test_ctest_properties_and_rules() -> None:
    case = parse_test({"name": "t", "command": ["/b/prog", "1"], "properties": [
        {"name": "WILL_FAIL", "value": True}, {"name": "SKIP_RETURN_CODE", "value": 77},
        {"name": "ENVIRONMENT", "value": ["A=1", "B=x=y"]}, {"name": "TIMEOUT", "value": 2.0},
        {"name": "WORKING_DIRECTORY", "value": "/w"}]})
    assert (case.will_fail, case.skip_code, case.timeout, case.cwd) == (True, 77, 2.0, "/w")
    assert case.env == {"A": "1", "B": "x=y"}
    assert evaluate(case, result(returncode=1))[0] == "passed"
    assert evaluate(case, result(returncode=0))[0] == "failed"
    assert evaluate(case, result(returncode=77))[0] == "skipped"
    assert evaluate(case, result(returncode=-11, signal=11))[0] == "failed"
    plain = CTestCase("p", ["x"], pass_regex=["ok"])
    assert evaluate(plain, result("all ok", returncode=1))[0] == "passed"
    assert evaluate(CTestCase("f", ["x"], fail_regex=["ERROR"]), result("ERROR"))[0] == "failed"


def test_ctest_emulator_is_stripped_by_program_name() -> None:
    emulator = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
    command = ["/usr/bin/qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", "/b/prog", "3"]
    assert strip_emulator(command, emulator) == ["/b/prog", "3"]
    assert strip_emulator(["/b/prog"], emulator) == ["/b/prog"]
    assert strip_emulator(command, []) == command


def test_repeated_names_get_stable_distinct_keys() -> None:
    assert unique_names(["a", "b", "a", "a"]) == ["a", "b", "a#2", "a#3"]
    assert unique_names(["a", "a", "a#2"]) == ["a", "a#3", "a#2"]  # a real "a#2" keeps its name
    keys = CaseKeys()
    assert [keys.key(n) for n in ("x", "y", "x")] == ["x", "y", "x#2"]


def test_a_repeated_name_in_a_batch_runs_once_and_keeps_both_results() -> None:
    framework = Scripted({"dup": "passed"})
    runner, launches = scripted_runner(framework)
    runner.names = {"dup#2": "dup"}

    def parse_run(run: RunResult, cases: Sequence[str], scratch: Path) -> BatchReport:
        return BatchReport({"dup": CaseResult("passed"), "dup#2": CaseResult("failed")})

    framework.parse_run = parse_run  # type: ignore[method-assign]
    outcomes = runner.run_cases(["dup", "dup#2"])
    assert launches == [["dup"]]
    assert {n: o.result.outcome for n, o in outcomes.items()} == {"dup": "passed",
                                                                   "dup#2": "failed"}


def test_gtest_disabled_tests_are_settled_without_a_launch() -> None:
    gtest = GoogleTest()
    assert gtest.settled("Suite.DISABLED_case") is not None
    assert gtest.settled("DISABLED_Suite.case") is not None
    assert gtest.settled("Suite.case") is None
    assert GoogleTest(run_disabled=True).settled("Suite.DISABLED_case") is None
    assert "--gtest_also_run_disabled_tests" not in gtest.run_args(["A.b"], Path("/x"))
    assert "--gtest_also_run_disabled_tests" in GoogleTest(run_disabled=True).run_args(
        ["A.b"], Path("/x"))


GTEST_SUITE_SETUP_FAILED = """\
[----------] 2 tests from Fixture
suite.cc:7: Failure
Failed
cannot set the suite up
[ RUN      ] Fixture.First
suite.cc:9: Skipped

[  SKIPPED ] Fixture.First (0 ms)
[----------] 1 test from Fixture (0 ms total)

[----------] 1 test from Other
[ RUN      ] Other.Passes
[       OK ] Other.Passes (0 ms)
[----------] 1 test from Other (0 ms total)
[  FAILED  ] Fixture: SetUpTestSuite or TearDownTestSuite
"""


def test_gtest_failed_suite_setup_makes_its_cases_errors() -> None:
    report = parse_console(GTEST_SUITE_SETUP_FAILED)
    first = report.results["Fixture.First"]
    assert first.outcome == "error" and "cannot set the suite up" in first.message
    assert report.results["Other.Passes"].outcome == "passed"


def test_catch2_expected_failures_and_warnings() -> None:
    report = parse_xml_stream(b"""<Catch name="t"><Group name="t">
    <TestCase name="may" tags="[!mayfail]"><Expression success="false" type="CHECK"
      filename="a.cpp" line="3"><Original>1 == 2</Original><Expanded>1 == 2</Expanded>
      </Expression><OverallResult success="true"/></TestCase>
    <TestCase name="should" tags="[!shouldfail]"><OverallResult success="false"/></TestCase>
    <TestCase name="warns"><Expression success="false" type="WARN" filename="a.cpp"
      line="5"><Original>x</Original><Expanded>x</Expanded></Expression>
      <OverallResult success="true"/></TestCase>
    </Group></Catch>""")
    outcomes = {name: (r.outcome, r.message) for name, r in report.results.items()}
    assert outcomes["may"][0] == "xfailed" and outcomes["may"][1].startswith("[!mayfail]:")
    assert outcomes["should"] == ("failed", "passed, but [!shouldfail] expects it to fail")
    assert outcomes["warns"] == ("passed", "")


def test_progress_follows_the_running_case() -> None:
    from pytest_xarch.collect.gtest import GoogleTest
    from pytest_xarch.collect.progress import LibtestProgress

    gtest = GoogleTest().progress(Path("/x"), 5.0)
    assert gtest.deadline() is None
    gtest.feed(b"[ RUN      ] A.b\nsome out")
    assert gtest.running == "A.b" and gtest.deadline() == gtest.since + 5.0
    gtest.feed(b"put\n[       OK ] A.b (0 ms)\n")
    assert gtest.running is None and gtest.deadline() is None
    libtest = LibtestProgress(5.0)
    libtest.feed(b"running 2 tests\ntest a::one ... ")
    assert libtest.running == "a::one"
    libtest.feed(b"ok\ntest a::two ... ")
    assert libtest.running == "a::two"


def test_progress_files_stderr_under_the_case_running_when_it_came() -> None:
    from pytest_xarch.collect.gtest import GoogleTest

    gtest = GoogleTest().progress(Path("/x"), 5.0)
    gtest.feed_stderr(b"before any case\n")
    gtest.read_round()
    gtest.feed(b"[ RUN      ] A.one\n")
    gtest.feed_stderr(b"one's warning\n")
    gtest.read_round()
    gtest.feed(b"[       OK ] A.one (0 ms)\n")
    gtest.read_round()
    gtest.feed_stderr(b"read after its end marker\n")
    gtest.read_round()
    gtest.feed(b"[ RUN      ] A.two\n")
    gtest.read_round()
    gtest.feed_stderr(b"two's ")
    gtest.read_round()
    gtest.feed_stderr(b"crash\n")
    assert gtest.case_stderr() == {"A.one": "one's warning\nread after its end marker\n",
                                   "A.two": "two's crash\n"}


def test_progress_tells_no_stderr_apart_when_one_read_spans_two_cases() -> None:
    from pytest_xarch.collect.gtest import GoogleTest

    gtest = GoogleTest().progress(Path("/x"), 5.0)
    gtest.read_round()
    gtest.feed(b"[ RUN      ] A.one\n")
    gtest.read_round()
    gtest.feed_stderr(b"one's warning\n")
    # A round that read A.one's end marker and stderr: still A.one's.
    gtest.read_round()
    gtest.feed(b"[       OK ] A.one (0 ms)\n")
    gtest.feed_stderr(b"one's last words\n")
    assert not gtest.mixed
    # One round read A.two's start, its end, A.three's start and stderr: whose is it?
    gtest.read_round()
    gtest.feed(b"[ RUN      ] A.two\n")
    gtest.read_round()
    gtest.feed(b"[       OK ] A.two (0 ms)\n[ RUN      ] A.three\n")
    gtest.feed_stderr(b"two's or three's\n")
    assert gtest.mixed and gtest.case_stderr() == {}


def test_report_progress_reads_the_flushed_xml(tmp_path: Path) -> None:
    from pytest_xarch.collect.progress import ReportProgress

    report = tmp_path / "report.xml"
    progress = ReportProgress(5.0, report)
    assert progress.deadline() is None  # no report yet
    report.write_bytes(b'<Catch><Group><TestCase name="a &amp; b" line="3">')
    assert progress.deadline() is not None and progress.running == "a & b"
    with open(report, "ab") as stream:
        stream.write(b'<OverallResult success="true"/></TestCase><TestCase name="c"/>')
    assert progress.deadline() is None


def test_xdist_scope_is_the_binary_and_target_for_binary_cases(tmp_path: Path) -> None:
    from pytest_xarch.plugin.scheduling import scope_of

    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "math_test").write_bytes(b"\x7fELF" + bytes(60))
    (tmp_path / "test_mod.py").write_text("def test_a(): pass\n")
    case = "bin/math_test::Math.Adds[aarch64]"
    assert scope_of(case, "load", tmp_path) == "bin/math_test::[aarch64]"
    assert scope_of("bin/math_test::Suite/P.Case/3[armv7]", "loadscope", tmp_path) == \
        "bin/math_test::[armv7]"
    # Python tests keep what the chosen mode means.
    assert scope_of("test_mod.py::test_a[aarch64]", "load", tmp_path) == \
        "test_mod.py::test_a[aarch64]"
    assert scope_of("test_mod.py::TestX::test_a", "loadscope", tmp_path) == "test_mod.py::TestX"
    assert scope_of("test_mod.py::test_a@serial", "loadgroup", tmp_path) == "serial"
    # A CTest test's Unity cases stay together; other ctest tests stand alone.
    assert scope_of("build/CTestTestfile.cmake::unity_sample/test_adds[aarch64]", "load",
                    tmp_path) == "build/CTestTestfile.cmake::unity_sample/[aarch64]"
    assert scope_of("build/CTestTestfile.cmake::passes[aarch64]", "load", tmp_path) == \
        "build/CTestTestfile.cmake::passes[aarch64]"


UNITY_RUN = """\
tests/parse.c:20:test_parses_numbers:PASS
helloworldtests/parse.c:31:test_rejects_garbage:FAIL: Expected 1 Was 2
tests/parse.c:40:test_not_ready:IGNORE: later
tests/parse.c:44:test_bare_ignore:IGNORE
\x1b[42mtests/parse.c:20:test_parses_numbers:PASS\x1b[00m

-----------------------
5 Tests 1 Failures 2 Ignored
FAIL
"""


def test_unity_output_gives_results_in_run_order_with_repeated_names_apart() -> None:
    from pytest_xarch.collect.unity import Unity, parse_output

    parsed = parse_output(UNITY_RUN)
    assert parsed.order == ["test_parses_numbers", "test_rejects_garbage", "test_not_ready",
                            "test_bare_ignore", "test_parses_numbers#2"]
    assert parsed.summary == (5, 1, 2)
    outcomes = {name: found.outcome for name, found in parsed.results.items()}
    assert outcomes == {"test_parses_numbers": "passed", "test_rejects_garbage": "failed",
                        "test_not_ready": "skipped", "test_bare_ignore": "skipped",
                        "test_parses_numbers#2": "passed"}
    failed = parsed.results["test_rejects_garbage"]
    assert failed.message.startswith("tests/parse.c:31: Expected 1 Was 2")
    assert failed.output == "helloworld"  # printed without a newline before its result
    assert parsed.results["test_not_ready"].message == "tests/parse.c:40: later"
    assert parsed.results["test_bare_ignore"].message == "tests/parse.c:44: ignore"
    runs: list[list[str]] = []

    def launch(args: Sequence[str], timeout: Optional[float]) -> RunResult:
        runs.append(list(args))
        return result(UNITY_RUN, returncode=1)

    assert Unity().list_cases(launch) == parsed.order
    assert runs == [[]]


def test_unity_listing_needs_the_summary() -> None:
    from pytest_xarch.collect.unity import Unity

    def crashed(args: Sequence[str], timeout: Optional[float]) -> RunResult:
        return result("t.c:1:test_a:PASS\n", returncode=-11, signal=11)

    with pytest.raises(ListingError, match=r"before Unity's summary.*test_a"):
        Unity().list_cases(crashed)

    def miscounted(args: Sequence[str], timeout: Optional[float]) -> RunResult:
        return result("t.c:1:test_a:PASS\n-----------------------\n2 Tests 0 Failures 0 Ignored\n")

    with pytest.raises(ListingError, match="counts 2 tests but 1 result lines"):
        Unity().list_cases(miscounted)


def test_a_non_selective_binary_is_launched_once_and_never_retried() -> None:
    """A Unity runner that crashes: the cases without a result are errors that say so
    (its lost output cannot tell which one crashed); nothing is launched again."""
    from pytest_xarch.collect.unity import Unity

    target = resolve_target("x86_64")
    runner = BinaryRunner(Path("/bin/true"), Unity(), target, NativeRunner(target))
    runner.cases = ["test_a", "test_b", "test_c", "test_d"]
    runs: list[list[str]] = []

    def launch(args: Sequence[str], timeout: Optional[float], watch: object = None
               ) -> RunResult:
        runs.append(list(args))
        return result("t.c:1:test_a:PASS\nt.c:2:test_b:FAIL: no\n", returncode=-11, signal=11)

    runner.launch = launch  # type: ignore[method-assign]
    outcomes = runner.run_cases(["test_d", "test_a", "test_c"], isolate=True)
    assert runs == [[]]
    assert {name: found.result.outcome for name, found in outcomes.items()} == {
        "test_a": "passed", "test_c": "error", "test_d": "error"}
    message = outcomes["test_c"].result.message
    assert "killed by SIGSEGV" in message and "2 case(s) unreported (test_c, test_d)" in message


def test_a_non_selective_listing_run_gives_the_first_results() -> None:
    """A Unity runner lists by running every case: those results serve the first batch, so
    a cold cache costs one launch, not two; the next batch launches again."""
    from pytest_xarch.collect.unity import Unity

    target = resolve_target("x86_64")
    runner = BinaryRunner(Path("/bin/true"), Unity(), target, NativeRunner(target))
    runs: list[list[str]] = []

    def launch(args: Sequence[str], timeout: Optional[float], watch: object = None
               ) -> RunResult:
        runs.append(list(args))
        return result(UNITY_RUN, returncode=1)

    runner.launch = launch  # type: ignore[method-assign]
    runner.cases = runner.list_cases()
    first = runner.run_cases(runner.cases)
    assert len(runs) == 1
    assert first["test_rejects_garbage"].result.outcome == "failed"
    assert first["test_parses_numbers"].run is first["test_parses_numbers#2"].run
    runner.run_cases(["test_not_ready"])
    assert len(runs) == 2


def test_go_subtests_select_and_expand() -> None:
    from pytest_xarch.collect.gotest import run_pattern

    assert run_pattern(["TestA", "TestA/one", "TestB"]) == "^(TestA|TestB)$"
    # Only some subtests of TestA, all of TestB: Go's alternation of /-paths.
    assert run_pattern(["TestA/one", "TestA/one#01", "TestA/x/deep", "TestB"]) == \
        "^(TestB)$|^TestA$/^(one|one\\#01|x)$"
    assert GoTest().expand(["TestA", "TestB"], ["TestA/one", "TestA", "TestA/one/deep"]) == [
        "TestA", "TestA/one", "TestA/one/deep", "TestB"]


def test_go_stopped_subtest_fails_its_parents() -> None:
    stopped = result("=== RUN   TestA\n=== RUN   TestA/one\n=== RUN   TestA/one/deep\n",
                     returncode=-9, timed_out=True)
    report = GoTest().parse_run(stopped, ["TestA"], Path())
    assert report.running == "TestA/one/deep"
    assert {name: found.outcome for name, found in report.results.items()} == {
        "TestA": "failed", "TestA/one": "failed"}
    assert "its subtest TestA/one/deep was running" in report.results["TestA"].message


def test_go_progress_restarts_at_each_subtest_and_ends_with_the_top() -> None:
    from pytest_xarch.collect.gotest import GoProgress

    progress = GoProgress(5.0)
    progress.feed(b"=== RUN   TestA\n=== RUN   TestA/one\n")
    assert progress.running == "TestA/one"
    progress.feed(b"=== CONT  TestA\n")
    assert progress.running == "TestA"
    progress.feed(b"--- PASS: TestA (0.00s)\n    --- PASS: TestA/one (0.00s)\n")
    assert progress.running is None and progress.deadline() is None


def test_go_listing_runs_the_tests_once_to_find_subtests() -> None:
    target = resolve_target("x86_64")
    runner = BinaryRunner(Path("/bin/true"), GoTest(), target, NativeRunner(target))
    runs: list[list[str]] = []
    verbose = ("=== RUN   TestA\n=== RUN   TestA/one\n--- PASS: TestA (0.00s)\n"
               "    --- PASS: TestA/one (0.00s)\n=== RUN   TestB\n--- FAIL: TestB (0.00s)\nFAIL\n")

    def launch(args: Sequence[str], timeout: Optional[float], watch: object = None
               ) -> RunResult:
        runs.append(list(args))
        return result("TestA\nTestB\n" if "-test.list" in args else verbose,
                      returncode=0 if "-test.list" in args else 1)

    runner.launch = launch  # type: ignore[method-assign]
    names = runner.list_cases()
    assert names == ["TestA", "TestA/one", "TestB"]
    assert runs[1][-1] == "^(TestA|TestB)$"
    outcomes = runner.run_cases(names)  # served by the listing's run
    assert len(runs) == 2
    assert {name: found.result.outcome for name, found in outcomes.items()} == {
        "TestA": "passed", "TestA/one": "passed", "TestB": "failed"}
    without = BinaryRunner(Path("/bin/true"), GoTest(subtests=False), target,
                           NativeRunner(target))
    without.launch = launch  # type: ignore[method-assign]
    assert without.list_cases() == ["TestA", "TestB"]
