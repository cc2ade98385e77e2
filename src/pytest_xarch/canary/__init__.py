"""The self-test canary: does the runtime even come up on this target?

`run_canary(target, cache_dir=...)` builds the C canary (`canary.c`: pointer
size and endianness against the target's, threads, thread-local storage, C11
atomics, a signal handler, mmap and the page size, clock_gettime, a large
malloc) and, when a C++ compiler exists, the C++ one (`canary.cpp`: exceptions
across frames, static constructors, `thread_local` with `std::thread`), runs
them through the target's runner and returns a `CanaryResult` naming the first
probe that failed. It never raises for a broken target: a build or setup
failure is a failed canary too (probe `build` or `setup`).

The canary is linked dynamically on glibc targets because that is what users'
programs are, and it proves more: the dynamic loader, the sysroot handed to
QEMU, the shared libc's TLS setup and its CPU-dependent (IFUNC) routines under
the pinned CPU model, libpthread and libstdc++. musl targets are linked
statically (there is rarely a musl sysroot to load from).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Optional, Union

from ..errors import SetupError, XarchError
from ..fidelity import Fidelity
from ..runners import Runner, RunResult, run
from ..targets import Target
from ..toolchain import build, find_compiler

__all__ = ["CanaryResult", "Probe", "judge", "parse_output", "run_canary"]

DEFAULT_TIMEOUT = 30.0  # wall-clock seconds per canary program; it needs well under one
_SOURCES = {"c": "canary.c", "c++": "canary.cpp"}
_CFLAGS = {"c": ("-std=gnu11", "-O1", "-pthread"), "c++": ("-O1", "-pthread")}
_MARK = "xarch-canary"


@dataclass(frozen=True)
class Probe:
    """One probe's verdict, from one line of canary output."""

    name: str
    ok: bool
    detail: str


@dataclass
class _Parsed:
    plan: Optional[list[str]] = None
    probes: list[Probe] = field(default_factory=list)
    finished: bool = False  # the closing `xarch-canary ok|FAIL` line was printed


def parse_output(stdout: str) -> _Parsed:
    """The plan, probe lines and closing line of one canary program's output."""
    parsed = _Parsed()
    for line in stdout.splitlines():
        words = line.split(" ", 2)
        if words[0] == _MARK and len(words) > 1:
            if words[1] == "plan":
                parsed.plan = line.split()[2:]
            else:
                parsed.finished = True
        elif (parsed.plan is not None and len(words) >= 2 and words[0] in parsed.plan
              and words[1] in ("ok", "FAIL")):
            detail = words[2] if len(words) > 2 else ""
            parsed.probes.append(Probe(words[0], words[1] == "ok", detail))
    return parsed


@dataclass
class CanaryResult:
    """How the canary went on one target: every probe, the first failure, the output."""

    target: str
    probes: list[Probe] = field(default_factory=list)
    failed_probe: Optional[str] = None  # a probe name, or "build", "setup", "startup", "exit"
    reason: str = ""  # one line: why `failed_probe` failed
    output: str = ""  # what the canary printed (or the build/setup error)
    runs: list[RunResult] = field(default_factory=list)
    static: bool = False
    notes: list[str] = field(default_factory=list)  # e.g. the C++ part was skipped

    @property
    def ok(self) -> bool:
        """Every probe passed."""
        return self.failed_probe is None

    @property
    def fidelity(self) -> Optional[Fidelity]:
        """The fidelity the canary ran at (None when it never ran)."""
        return self.runs[0].fidelity if self.runs else None

    @property
    def runner_description(self) -> str:
        """Where it ran, e.g. `qemu-aarch64 7.2.22 -cpu cortex-a53`."""
        return self.runs[0].runner_description if self.runs else "not run"

    def summary(self) -> str:
        """One line: `canary on aarch64 [qemu ...]: ok (12 probes)` or the failure."""
        where = f"canary on target '{self.target}' [{self.runner_description}]"
        if self.ok:
            return f"{where}: ok ({len(self.probes)} probes)"
        return f"{where}: failed at probe '{self.failed_probe}': {self.reason}"

    def explain(self) -> str:
        """The summary, the notes and the canary's own output, for an error report."""
        lines = [self.summary(), *self.notes]
        if self.output.strip() and self.output.strip() != self.reason.strip():
            lines.append(f"--- canary output ---\n{self.output.rstrip()}")
        for result in self.runs:
            if result.unimplemented:
                lines.append(f"--- QEMU: unimplemented in emulation ---\n{result.unimplemented}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "target": self.target,
            "ok": self.ok,
            "failed_probe": self.failed_probe,
            "reason": self.reason,
            "runner": self.runner_description,
            "fidelity": str(self.fidelity) if self.fidelity is not None else None,
            "static": self.static,
            "probes": [{"name": p.name, "ok": p.ok, "detail": p.detail} for p in self.probes],
            "notes": self.notes,
            "output": self.output,
        }

    def _fail(self, probe: str, reason: str) -> CanaryResult:
        self.failed_probe, self.reason = probe, reason
        return self


def run_canary(
    target: Target,
    *,
    cache_dir: Union[str, Path],
    runner: Optional[Runner] = None,
    timeout: Optional[float] = None,
    static: Optional[bool] = None,
    cxx: Optional[bool] = None,
) -> CanaryResult:
    """Build (cached in `cache_dir`) and run the canary for `target`.

    `runner` defaults to the target's; `timeout` (wall-clock seconds per canary
    program) to 30. `static` defaults to dynamic linking on glibc targets and
    static on musl ones. The C++ part runs when `cxx` is true, or when it is
    None and a C++ compiler for the target exists.
    """
    linked_static = target.libc == "musl" if static is None else static
    result = CanaryResult(target.name, static=linked_static)
    langs = ["c"]
    if cxx or cxx is None:
        try:
            find_compiler(target, "c++")
            langs.append("c++")
        except SetupError as missing:
            if cxx:
                return result._fail("build", str(missing))
            result.notes.append(f"C++ part skipped: {missing}")
    outputs: list[str] = []
    for lang in langs:
        ran = _run_one(target, lang, result, outputs, cache_dir, runner, timeout)
        result.output = "\n".join(outputs)
        if not ran:
            break
    return result


def _run_one(
    target: Target, lang: str, result: CanaryResult, outputs: list[str],
    cache_dir: Union[str, Path], runner: Optional[Runner], timeout: Optional[float],
) -> bool:
    """Build and run one canary program, adding its probes to `result`; False on failure."""
    source = resources.files(__package__).joinpath(_SOURCES[lang])
    try:
        with resources.as_file(source) as path:
            program = build(target, [path], cflags=_CFLAGS[lang], ldflags=("-pthread",),
                            static=result.static, lang=lang, cache_dir=cache_dir)
    except XarchError as problem:
        outputs.append(str(problem))
        lines = [line.strip() for line in str(problem).splitlines()[:2]]
        result._fail("build", " ".join(lines)[:300])
        return False
    args: Sequence[str] = (str(program), str(target.bits), target.endian) if lang == "c" else (
        str(program),)
    try:
        ran = run(target, args, runner=runner, timeout=timeout or DEFAULT_TIMEOUT)
    except XarchError as problem:
        outputs.append(str(problem))
        result._fail("setup", str(problem).splitlines()[0])
        return False
    outputs.append(ran.stdout.rstrip() + (f"\n{ran.stderr.rstrip()}" if ran.stderr.strip() else ""))
    return judge(result, lang, ran)


def judge(result: CanaryResult, lang: str, ran: RunResult) -> bool:
    """Add the probes of one canary run to `result`; False (and the failure) when it failed."""
    result.runs.append(ran)
    parsed = parse_output(ran.stdout)
    result.probes += parsed.probes
    if parsed.plan is None:
        result._fail("startup", f"the {lang.upper()} canary did not start: {ran.outcome()}"
                     + _first_line(ran.stderr))
        return False
    failed = next((probe for probe in parsed.probes if not probe.ok), None)
    if failed is not None:
        result._fail(failed.name, failed.detail or "failed")
        return False
    reported = {probe.name for probe in parsed.probes}
    unfinished = next((name for name in parsed.plan if name not in reported), None)
    if unfinished is not None:
        result._fail(unfinished, f"did not finish: {ran.outcome()}" + _first_line(ran.stderr))
        return False
    if not parsed.finished or not ran.ok:
        result._fail("exit", f"every probe passed, then the program ended with {ran.outcome()}"
                     + _first_line(ran.stderr))
        return False
    return True


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return f" ({lines[0][:157]}...)" if len(lines[0]) > 160 else f" ({lines[0]})"
