"""Running a target binary: choosing the runner and the one `run()` entry point.

Runner kinds are registered in `RUNNER_KINDS`; a target chooses one with
`runner = "<kind>"` (or a URL such as ``ssh://user@host`` whose scheme is the
kind), and otherwise gets `native` when this host executes its instructions and
no CPU model is pinned, `qemu` when not.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
from collections.abc import Callable, Mapping, Sequence
from typing import Optional, Union

from .. import containment
from ..errors import SetupError
from ..fidelity import Fidelity
from ..process import DEFAULT_OUTPUT_LIMIT, StdinData, execute
from ..settings import DEFAULT_EMULATION_FACTOR, DEFAULT_TIMEOUT, check_timeout
from ..targets import ELF_MAGIC, Target, host_executes, host_target, resolve_target
from .base import Runner, RunResult, host_environment, signal_name
from .native import NativeRunner
from .qemu import QemuRunner

__all__ = [
    "RUNNER_KINDS",
    "NativeRunner",
    "QemuRunner",
    "RunResult",
    "Runner",
    "guest_environment",
    "run",
    "runner_for",
    "signal_name",
]

RunnerFactory = Callable[[Target, Optional[str], Optional[str]], Runner]


def _native(target: Target, cpu: Optional[str], sysroot: Optional[str]) -> Runner:
    if not host_executes(target):
        raise SetupError(
            f"target '{target.name}' is set to runner = \"native\", but this host is "
            f"{host_target().title} and cannot execute {target.title} code: "
            "remove the runner setting to emulate it with QEMU"
        )
    if cpu or target.cpu:
        raise SetupError(
            f"target '{target.name}' pins CPU model '{cpu or target.cpu}', which only "
            "emulation can honour: remove runner = \"native\" or the cpu setting"
        )
    return NativeRunner(target)


def _qemu(target: Target, cpu: Optional[str], sysroot: Optional[str]) -> Runner:
    return QemuRunner(target, cpu=cpu, sysroot=sysroot)


def _binfmt(target: Target, cpu: Optional[str], sysroot: Optional[str]) -> Runner:
    from .binfmt import BinfmtRunner

    return BinfmtRunner(target, cpu=cpu, sysroot=sysroot)


def _ssh(target: Target, cpu: Optional[str], sysroot: Optional[str]) -> Runner:
    if cpu:
        raise SetupError(
            f"target '{target.name}' runs on a device over SSH; a CPU model ({cpu}) can only "
            "be pinned under emulation"
        )
    from .ssh import SshRunner

    return SshRunner(target)


RUNNER_KINDS: dict[str, RunnerFactory] = {
    "native": _native, "qemu": _qemu, "binfmt": _binfmt, "ssh": _ssh,
}
ADDRESSED_KINDS = frozenset({"ssh"})  # kinds whose runner setting is a URL


def runner_kind(target: Target, cpu: Optional[str] = None) -> str:
    """The kind of runner `target` gets on this host (`native`, `qemu`, `ssh`, ...)."""
    if target.runner:
        return target.runner.split("://", 1)[0] if "://" in target.runner else target.runner
    if host_executes(target) and not (cpu or target.cpu):
        return "native"
    return "qemu"


def runner_for(
    target: Target | str, *, cpu: Optional[str] = None, sysroot: Optional[str] = None
) -> Runner:
    """The runner that executes binaries of `target` on this host."""
    target = resolve_target(target)
    kind = runner_kind(target, cpu)
    if target.runner and "://" in target.runner and kind not in ADDRESSED_KINDS:
        raise SetupError(
            f"target '{target.name}' has runner = \"{target.runner}\", but runner '{kind}' "
            f"takes no address (only {', '.join(sorted(ADDRESSED_KINDS))}:// does): "
            f"use runner = \"{kind}\""
        )
    factory = RUNNER_KINDS.get(kind)
    if factory is None:
        known = ", ".join(sorted(RUNNER_KINDS))
        raise SetupError(
            f"target '{target.name}' asks for runner '{target.runner}', which is not available "
            f"in this version of pytest-xarch (available: {known})"
        )
    return factory(target, cpu, sysroot)


def guest_environment(
    target: Target, runner: Runner, env: Optional[Mapping[str, str]] = None
) -> dict[str, str]:
    """The environment a guest sees: the host's minus loader/QEMU variables, plus ours."""
    guest = host_environment()
    guest.update(
        XARCH_TARGET=target.name,
        XARCH_FIDELITY=str(runner.fidelity),
        XARCH_RUNNER=shlex.join(runner.prefix()),
    )
    guest.update(target.env)
    guest.update(env or {})
    return guest


def locate_program(program: str) -> str:
    """The path of `program` (searched on PATH when it has no slash), checked to be an ELF.

    Only regular files are opened: a FIFO or a device named as the program would
    block the read (or never end), so it is refused before.
    """
    path = program if os.sep in program else shutil.which(program) or program
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise SetupError(f"{program}: no such file") from None
    except OSError as error:
        raise SetupError(f"{program}: cannot be read ({error.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise SetupError(f"{program}: is a directory, not a program")
    if not stat.S_ISREG(info.st_mode):
        raise SetupError(
            f"{program}: is {_file_kind(info.st_mode)}, not a program file; give the path of "
            "an ELF executable built for the target"
        )
    if not os.access(path, os.X_OK):
        raise SetupError(f"{program}: not executable (chmod +x {program})")
    try:
        with open(path, "rb") as stream:
            head = stream.read(4)
    except OSError as error:
        raise SetupError(f"{program}: cannot be read ({error.strerror})") from None
    if head != ELF_MAGIC:
        kind = "a script" if head.startswith(b"#!") else "not an ELF executable"
        raise SetupError(
            f"{program}: {kind}; xarch runs ELF programs built for the target "
            "(scripts can run target programs through $XARCH_RUNNER)"
        )
    return os.path.abspath(path)


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def default_timeout(
    target: Target, runner: Runner, emulation_factor: float, configured: Optional[float] = None
) -> float:
    """Seconds a run may take: `configured`, else the target's timeout, scaled when emulated."""
    base = configured or target.timeout or DEFAULT_TIMEOUT
    return base * emulation_factor if runner.fidelity == Fidelity.EMULATED else base


def _check_before_run(
    program: str, target: Target, runner: Runner, env: Mapping[str, str]
) -> None:
    """Static check of `program` (SetupError on error findings), skipped when known clean.

    LD_LIBRARY_PATH in `env` (the run's and the target's) counts as the loader's.
    """
    from ..verdicts import clean_verdict_entry, known_clean, remember_clean

    sysroot = getattr(runner, "sysroot", None)
    entry = clean_verdict_entry(program, target, sysroot, env)
    if known_clean(entry):
        return
    from ..checks import check_before_run

    check_before_run(program, target, sysroot=sysroot, env=env)
    remember_clean(entry)


def killing_signal(returncode: int, timed_out: bool) -> Optional[int]:
    """The signal the program died from, unless it was us killing it at its timeout."""
    return -returncode if returncode < 0 and not timed_out else None


def run(
    target: Target | str,
    argv: Sequence[Union[str, bytes]],
    *,
    stdin: StdinData = None,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
    timeout: Optional[float] = None,
    cpu: Optional[str] = None,
    sysroot: Optional[str] = None,
    runner: Optional[Runner] = None,
    capture: bool = True,
    emulation_factor: float = DEFAULT_EMULATION_FACTOR,
    check: bool = True,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
) -> RunResult:
    """Run `argv` (a target program and its arguments) for `target` and wait for it.

    `timeout` is in wall-clock seconds; without it the target's timeout (60 s by
    default) applies, multiplied by `emulation_factor` under emulation. On expiry
    the whole process tree is killed and the result says `timed_out`.
    With `capture=False`, stdio is inherited instead of captured; captured output
    keeps `output_limit` bytes per stream (head and tail). With `check`,
    the program is first verified statically (cached per file content) and an
    error finding raises SetupError with its message instead of QEMU's.
    """
    if not argv:
        raise SetupError("nothing to run: give the program to run and its arguments")
    args = [os.fsdecode(arg) for arg in argv]  # bytes reach the program verbatim
    if timeout is not None:
        check_timeout(timeout, "timeout")
    target = resolve_target(target)
    runner = runner or runner_for(target, cpu=cpu, sysroot=sysroot)
    program = locate_program(args[0])
    if check:
        _check_before_run(program, target, runner, {**target.env, **(env or {})})
    runner.prepare(program)
    guest_env = guest_environment(target, runner, env)
    limit = timeout or default_timeout(target, runner, emulation_factor)
    with containment.current().scratch_dir("xarch-run-") as folder:
        scratch = str(folder)
        host = runner.command(
            program, args[1:], guest_env, scratch, cwd=cwd, timeout=limit
        )
        outcome = execute(
            host.argv, timeout=host.timeout or limit, stdin=stdin, env=host.env, cwd=host.cwd,
            capture=capture, output_limit=output_limit, stderr_filter=host.stderr_filter,
        )
        result = RunResult(
            args=args,
            returncode=outcome.returncode,
            stdout=outcome.stdout.decode(errors="replace"),
            stderr="",
            target=target.name,
            runner=runner.kind,
            fidelity=runner.fidelity,
            runner_description=runner.describe(),
            command=host.argv,
            duration=outcome.duration,
            timed_out=outcome.timed_out,
            timeout=limit,
            signal=killing_signal(outcome.returncode, outcome.timed_out),
            max_rss_kb=outcome.max_rss_kb,
            cpu_time=outcome.cpu_time,
            stdout_dropped=outcome.stdout_dropped,
            stderr_dropped=outcome.stderr_dropped,
        )
        return runner.finish(result, outcome.stderr, scratch)
