"""The binfmt runner: the program is executed directly and the kernel's handler runs QEMU.

Unlike the explicit `qemu` runner, a guest that execs another target program
works, because the kernel hands every target executable to the handler. The
sysroot and CPU model reach QEMU (and every child) through `QEMU_LD_PREFIX` and
`QEMU_CPU`; unimplemented syscalls are logged through `QEMU_LOG`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Optional

from .. import binfmt_misc
from ..errors import SetupError
from ..qemu_facts import qemu_version
from ..targets import Target
from .base import GuestEnvironment, HostCommand
from .qemu import _UNIMP_LOG, SIGNAL_BANNER, QemuRunner


def missing_handler_message(target: Target) -> str:
    """Why the binfmt runner cannot run `target`, and the command that fixes it."""
    if not binfmt_misc.mounted():
        state = f"binfmt_misc is not mounted at {binfmt_misc.BINFMT_DIR}"
    elif not binfmt_misc.enabled():
        state = "binfmt_misc is disabled (its status file says so)"
    else:
        disabled = [h.name for h in binfmt_misc.handlers_for(target) if not h.enabled]
        state = (f"the handler {', '.join(disabled)} is disabled" if disabled
                 else f"no binfmt_misc handler catches {target.title} executables")
    return (
        f"target '{target.name}' uses runner = \"binfmt\", but {state}: run "
        f"`sudo xarch binfmt install --target {target.name}` (or use runner = \"qemu\")"
    )


class BinfmtRunner(QemuRunner):
    """Runs target programs directly through the kernel's binfmt_misc handler."""

    kind = "binfmt"

    @property
    def handler(self) -> Optional[binfmt_misc.Handler]:
        """The enabled handler that catches the target's programs now (read afresh)."""
        return binfmt_misc.active_handler(self.target)

    @property
    def qemu_path(self) -> Optional[str]:
        """The real QEMU behind the handler's interpreter (for its version)."""
        handler = self.handler
        return os.path.realpath(handler.interpreter) if handler else None

    def engine(self) -> str:
        handler = self.handler  # one read of binfmt_misc: engine() runs for every run
        if handler is None:
            return f"binfmt (no handler for {self.target.qemu}) -cpu {self.cpu}"
        version = qemu_version(os.path.realpath(handler.interpreter))
        return (f"binfmt {handler.name} ({handler.interpreter} {version}, "
                f"flags {handler.flags or '-'}) -cpu {self.cpu}")

    def _require_qemu(self) -> str:
        handler = self.handler
        if handler is None:
            raise SetupError(missing_handler_message(self.target))
        return os.path.realpath(handler.interpreter)

    def _qemu_variables(self) -> dict[str, str]:
        variables = {"QEMU_CPU": self.cpu}
        if self.root and self.root.prefix:
            variables["QEMU_LD_PREFIX"] = str(self.root.prefix)
        return variables

    def prefix(self) -> list[str]:
        """`env QEMU_CPU=... QEMU_LD_PREFIX=...`: run the program itself with these set."""
        pairs = [f"{name}={value}" for name, value in sorted(self._qemu_variables().items())]
        return ["env", *pairs]

    def command(
        self, program: str, args: Sequence[str], env: GuestEnvironment, scratch: str, *,
        cwd: Optional[str] = None, timeout: Optional[float] = None,
    ) -> HostCommand:
        host_env = env.full()
        host_env.update(self._qemu_variables())
        host_env["QEMU_LOG"] = "unimp"
        host_env["QEMU_LOG_FILENAME"] = os.path.join(scratch, _UNIMP_LOG)
        return HostCommand([program, *args], host_env, cwd, stderr_filter=SIGNAL_BANNER,
                           by_hand=[*self.prefix(), program, *args])
