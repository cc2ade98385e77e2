"""The native runner: the host's own CPU executes the binary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..fidelity import Fidelity
from .base import Runner


class NativeRunner(Runner):
    """Runs the program directly; for targets whose ISA this host executes."""

    kind = "native"
    fidelity = Fidelity.NATIVE

    def describe(self) -> str:
        return "native"

    def prefix(self) -> list[str]:
        return []

    def command(
        self, program: str, args: Sequence[str], env: Mapping[str, str], scratch: str
    ) -> tuple[list[str], dict[str, str]]:
        return [program, *args], dict(env)
