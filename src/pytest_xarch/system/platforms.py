"""What booting a target under qemu-system takes: the emulator, machine, console, kernel."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SetupError
from ..targets import Target


@dataclass(frozen=True)
class Platform:
    """The qemu-system side of one target architecture."""

    qemu: str  # qemu-system-aarch64
    package: str  # the Debian package that has it
    machine: str  # -M
    console: str  # the kernel's console device
    debian_arch: str
    kernel_package: str  # Debian's kernel metapackage for this machine


# Keyed by the target's QEMU architecture (`Target.qemu`).
PLATFORMS: dict[str, Platform] = {
    "aarch64": Platform("qemu-system-aarch64", "qemu-system-arm", "virt", "ttyAMA0",
                        "arm64", "linux-image-arm64"),
}


def platform_for(target: Target) -> Platform:
    """The platform of `target` (SetupError when system emulation does not cover it)."""
    platform = PLATFORMS.get(target.qemu)
    if platform is None:
        covered = ", ".join(sorted(PLATFORMS))
        raise SetupError(
            f"target '{target.name}' ({target.title}) cannot run under system emulation yet "
            f"(covered: {covered}): use runner = \"qemu\" for it"
        )
    return platform
