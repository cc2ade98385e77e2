"""The QEMU user-mode runner: `qemu-<arch> -L <sysroot> -cpu <model> PROG ARGS`."""

from __future__ import annotations

import contextlib
import difflib
import functools
import os
import re
import shutil
from collections.abc import Sequence
from typing import Optional

from ..errors import SetupError
from ..fidelity import Fidelity
from ..process import LineFilter
from ..qemu_facts import install_hint, qemu_cpu_models, qemu_version, startup_problem
from ..roots import LibraryRoot, choose_root
from ..targets import Target
from .base import GuestEnvironment, HostCommand, Runner
from .environment import is_loader_variable
from .result import RunResult

# `qemu: uncaught target signal 4 (Illegal instruction) - core dumped`
SIGNAL_BANNER = LineFilter(re.compile(
    rb"^qemu: uncaught target signal (\d+) \([^)\n]*\)(?: - core dumped)?\r?\n?", re.MULTILINE
), b"qemu: uncaught target signal ")
# rseq, which glibc >= 2.35 probes at every start and copes without: not worth reporting.
_BENIGN_SYSCALLS = {
    "aarch64": {293}, "riscv64": {293}, "arm": {398}, "x86_64": {334},
    "i386": {386}, "ppc64le": {387}, "s390x": {383},
}
_UNIMP_LIMIT = 4096
_UNIMP_LOG = "qemu-unimplemented.log"


class QemuRunner(Runner):
    """Emulates the target's CPU with QEMU user-mode, pinned to a baseline CPU model."""

    kind = "qemu"
    fidelity = Fidelity.EMULATED

    def __init__(
        self, target: Target, *, cpu: Optional[str] = None, sysroot: Optional[str] = None
    ) -> None:
        super().__init__(target)
        self._cpu = cpu or target.emulation_cpu
        self._sysroot_override = sysroot

    @property
    def cpu(self) -> str:
        return self._cpu

    @functools.cached_property
    def qemu_path(self) -> Optional[str]:
        """Absolute path of `qemu-<arch>`, or None when it is not installed."""
        return shutil.which(self.target.qemu_binary)

    @functools.cached_property
    def root(self) -> Optional[LibraryRoot]:
        """The coherent library root (its prefix is handed to `-L`), or None when there is
        none. A sysroot the user named must be a directory (SetupError otherwise)."""
        return choose_root(self.target, self._sysroot_override)

    def engine(self) -> str:
        if not self.qemu_path:
            return f"{self.target.qemu_binary} (not installed) -cpu {self.cpu}"
        return f"{self.target.qemu_binary} {qemu_version(self.qemu_path)} -cpu {self.cpu}"

    def _require_qemu(self) -> str:
        if not self.qemu_path:
            raise SetupError(
                f"{self.target.qemu_binary} not found, needed to emulate target "
                f"'{self.target.name}': {install_hint(self.target.qemu_binary)}"
            )
        return self.qemu_path

    def prefix(self) -> list[str]:
        argv = [self._require_qemu()]
        if self.root and self.root.prefix:
            argv += ["-L", str(self.root.prefix)]
        return [*argv, "-cpu", self.cpu, *self.target.qemu_args]

    def ready(self) -> None:
        qemu = self._require_qemu()
        self._require_cpu_model(qemu)
        self._require_startup(qemu)

    def prepare(self, program: str) -> None:
        self.ready()
        require_loader(self.target, self.root, program)

    def _require_cpu_model(self, qemu_path: str) -> None:
        """SetupError naming the model and the QEMU version when QEMU lacks the pinned CPU."""
        model = self.cpu.split(",", 1)[0]  # "qemu64,+avx2": the model before the features
        known = qemu_cpu_models(qemu_path)
        if not known or model in known:  # an unparsable listing is not proof of absence
            return
        near = difflib.get_close_matches(model, sorted(known), n=3, cutoff=0.6)
        hint = f" (nearest: {', '.join(near)})" if near else ""
        raise SetupError(
            f"target '{self.target.name}' needs CPU model '{model}', which "
            f"{self.target.qemu_binary} {qemu_version(qemu_path)} does not have{hint}: "
            f"install a newer QEMU, or choose a model from `{self.target.qemu_binary} -cpu help`"
            f" (set cpu in [tool.pytest_xarch.target.{self.target.name}] or pass --cpu)"
        )

    def _require_startup(self, qemu_path: str) -> None:
        """SetupError with QEMU's own words when it would refuse the CPU string or qemu_args."""
        problem = startup_problem(qemu_path, ["-cpu", self.cpu, *self.target.qemu_args])
        if problem:
            raise SetupError(
                f"{self.target.qemu_binary} refuses to start for target '{self.target.name}' "
                f"with -cpu {self.cpu} {' '.join(self.target.qemu_args)}".rstrip()
                + f": {problem} (fix cpu or qemu_args in "
                f"[tool.pytest_xarch.target.{self.target.name}], or --cpu)"
            )

    def command(
        self, program: str, args: Sequence[str], env: GuestEnvironment, scratch: str, *,
        cwd: Optional[str] = None, timeout: Optional[float] = None,
    ) -> HostCommand:
        log = ["-d", "unimp", "-D", os.path.join(scratch, _UNIMP_LOG)]
        loader: list[str] = []
        host_env: dict[str, str] = {}
        for name, value in env.full().items():
            if is_loader_variable(name):
                loader += ["-E", f"{name}={value}"]  # for the guest's loader, not QEMU's
            else:
                host_env[name] = value
        rest = [*loader, program, *args]
        return HostCommand([*self.prefix(), *log, *rest], host_env, cwd,
                           stderr_filter=SIGNAL_BANNER, by_hand=[*self.prefix(), *rest])

    def finish(self, result: RunResult, stderr: bytes, scratch: str) -> RunResult:
        banner = SIGNAL_BANNER.pattern.search(stderr)
        if banner:
            stderr = SIGNAL_BANNER.pattern.sub(b"", stderr)
            if not result.signal and not result.timed_out:
                result.signal = int(banner.group(1))
        result.stderr = stderr.decode(errors="replace")
        if not result.ok:
            result.unimplemented = self._read_unimplemented(os.path.join(scratch, _UNIMP_LOG))
        return result

    def _read_unimplemented(self, log_path: str) -> str:
        try:
            with open(log_path, errors="replace") as log:
                text = log.read(_UNIMP_LIMIT * 4)
        except OSError:
            return ""
        benign = _BENIGN_SYSCALLS.get(self.target.qemu, set())
        kept = [
            line for line in text.splitlines()
            if not (line.startswith("Unsupported syscall: ") and _syscall_number(line) in benign)
        ]
        return "\n".join(kept)[:_UNIMP_LIMIT]


def require_loader(target: Target, root: Optional[LibraryRoot], program: str) -> None:
    """SetupError naming what to install or set when `program` is dynamic and `root`
    (the runner's library root) cannot give it its loader."""
    if root and root.loader_file(target.loader):
        return  # a usable root; a program with another loader is the check's (or QEMU's)
    from ..elf import read_interp  # only now: pyelftools costs ~50 ms to import and parse

    interp = read_interp(program)
    if interp is None:
        return
    looked = ", ".join(target.sysroot_candidates)
    if root is not None:
        raise SetupError(
            f"{program} is dynamically linked (loader {interp}) but "
            f"the sysroot {root.tree} does not contain {target.loader}: point "
            f"sysroot at a root filesystem of target '{target.name}' or link the "
            "program statically"
        )
    packages = [p for p in target.packages if p.startswith("libc6-dev")]
    if target.debian_arch:
        packages.append(f"libc6:{target.debian_arch} (Debian multiarch)")
    install = f"install {' or '.join(packages)}, " if packages else ""
    raise SetupError(
        f"{program} is dynamically linked (loader {interp}) but no sysroot for target "
        f"'{target.name}' was found (looked in {looked}): {install}set `sysroot` in "
        f"[tool.pytest_xarch.target.{target.name}], pass --sysroot, or link statically"
    )


def _syscall_number(line: str) -> Optional[int]:
    with contextlib.suppress(ValueError):
        return int(line.rsplit(":", 1)[1])
    return None
