"""`run()`: one target program through its runner, contained, checked first if asked.

Below the edges: it takes a `Target` (names are resolved by the callers, through
the settings) and a `precheck` from its caller (static verification lives above
the runners).
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping, Sequence
from typing import Callable, Optional, Union

from .. import containment
from ..errors import SetupError
from ..fidelity import Fidelity
from ..process import DEFAULT_OUTPUT_LIMIT, OutputWatch, StdinData, execute
from ..roots import LibraryRoot
from ..settings import DEFAULT_EMULATION_FACTOR, DEFAULT_TIMEOUT, check_timeout
from ..targets import ELF_MAGIC, Target
from .base import Runner
from .environment import guest_environment
from .registry import runner_for
from .result import RunResult

# A check of `program` before it runs for `target` through the runner's library root and
# with the guest's `env` (the run's and the target's): raises SetupError to refuse the run.
PreCheck = Callable[[str, Target, Optional[LibraryRoot], Mapping[str, str]], None]


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
    """Seconds a run may take: `configured`, else the target's timeout, scaled when emulated
    (user-mode or system)."""
    base = configured or target.timeout or DEFAULT_TIMEOUT
    emulated = runner.fidelity in (Fidelity.EMULATED, Fidelity.SYSTEM)
    return base * emulation_factor if emulated else base


def run(
    target: Target,
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
    precheck: Optional[PreCheck] = None,
    output_limit: int = DEFAULT_OUTPUT_LIMIT,
    watch: Optional[OutputWatch] = None,
) -> RunResult:
    """Run `argv` (a target program and its arguments) for `target` and wait for it.

    `timeout` is in wall-clock seconds; without it the target's timeout (60 s by
    default) applies, multiplied by `emulation_factor` under emulation. On expiry
    everything the run started is killed and the result says `timed_out`.
    With `capture=False`, stdio is inherited instead of captured; captured output
    keeps `output_limit` bytes per stream (head and tail). `precheck` runs before
    the program does and may refuse it (static verification, see `checks`). A
    `watch` sees the guest's output as it comes and may stop it earlier (see
    `process.execute`).
    """
    if not argv:
        raise SetupError("nothing to run: give the program to run and its arguments")
    args = [os.fsdecode(arg) for arg in argv]  # bytes reach the program verbatim
    if timeout is not None:
        check_timeout(timeout, "timeout")
    runner = runner or runner_for(target, cpu=cpu, sysroot=sysroot)
    program = locate_program(args[0])
    if precheck is not None:
        precheck(program, target, runner.root, {**target.env, **(env or {})})
    runner.prepare(program)
    guest = guest_environment(target, runner, env)
    limit = timeout or default_timeout(target, runner, emulation_factor)
    with containment.current().scratch_dir("xarch-run-") as folder:
        scratch = str(folder)
        try:
            host = runner.command(program, args[1:], guest, scratch, cwd=cwd, timeout=limit)
            outcome = execute(
                host.argv, timeout=host.timeout or limit, stdin=stdin, env=host.env,
                cwd=host.cwd, capture=capture, output_limit=output_limit,
                stderr_filter=host.stderr_filter, watch=watch,
            )
            result = RunResult.from_outcome(outcome, args, target.name, runner, timeout=limit,
                                            command=host.argv)
            result.reproduce = host.reproduction(guest.given)
            return runner.finish(result, outcome.stderr, scratch)
        finally:
            runner.discard(scratch)
