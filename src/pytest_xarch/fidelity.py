"""How much a result proves, from checked-only to real target hardware."""

from __future__ import annotations

import enum
import functools


@functools.total_ordering
class Fidelity(enum.Enum):
    """Ordered so that `min()` of the runs of a test gives the test's fidelity.

    A level equals its name (`result.fidelity == "emulated"`) and hashes like it,
    so it can be looked up in sets and dicts keyed either way. It is not a number.
    """

    STATIC = 0  # checked, not run
    EMULATED = 1  # QEMU user-mode (explicit or through binfmt_misc)
    SYSTEM = 2  # the target's own kernel under qemu-system (runner = "system")
    NATIVE = 3  # this host's own CPU, same ISA
    HARDWARE = 4  # a declared target device

    def __str__(self) -> str:
        return self.name.lower()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Fidelity):
            return self is other
        if isinstance(other, str):
            return str(self) == other.strip().lower()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(str(self))

    def __lt__(self, other: object) -> bool:
        if isinstance(other, str):
            other = Fidelity.parse(other)
        if not isinstance(other, Fidelity):
            return NotImplemented
        return bool(self.value < other.value)

    @property
    def is_silicon(self) -> bool:
        """True when the result came from real silicon, not emulation."""
        return self >= Fidelity.NATIVE

    @classmethod
    def parse(cls, text: str) -> Fidelity:
        """Parse a level name such as "emulated"; the error lists the valid names."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            levels = ", ".join(str(level) for level in cls)
            raise ValueError(f"unknown fidelity level {text!r}: expected one of {levels}") from None
