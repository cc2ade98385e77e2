"""The native runner: the host's own CPU executes the binary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

from ..fidelity import Fidelity
from ..roots import HOST_ROOT, LibraryRoot
from .base import GuestEnvironment, HostCommand, Runner


class NativeRunner(Runner):
    """Runs the program directly; for targets whose ISA this host executes."""

    kind = "native"
    fidelity = Fidelity.NATIVE

    @property
    def root(self) -> LibraryRoot:
        return HOST_ROOT

    def engine(self) -> str:
        return "native"

    def prefix(self) -> list[str]:
        return []

    def command(
        self, program: str, args: Sequence[str], env: GuestEnvironment, scratch: str, *,
        cwd: Optional[str] = None, timeout: Optional[float] = None,
    ) -> HostCommand:
        return HostCommand([program, *args], env.full(), cwd)
