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

    @property
    def install_hint(self) -> str:
        """How to get the emulator: `apt-get install qemu-system-arm`."""
        return f"apt-get install {self.package}"


# Keyed by the target's Debian architecture (musl targets boot the same kernel).
PLATFORMS: dict[str, Platform] = {
    "arm64": Platform("qemu-system-aarch64", "qemu-system-arm", "virt", "ttyAMA0",
                      "arm64", "linux-image-arm64"),
    "armhf": Platform("qemu-system-arm", "qemu-system-arm", "virt", "ttyAMA0",
                      "armhf", "linux-image-armmp-lpae"),
}


def platform_for(target: Target) -> Platform:
    """The platform of `target` (SetupError when system emulation does not cover it)."""
    arch = (target.debian_arch or "").removeprefix("musl-linux-")
    platform = PLATFORMS.get(arch)
    if platform is None:
        covered = " and ".join(sorted(PLATFORMS))
        raise SetupError(
            f"target '{target.name}' ({target.title}) cannot run under system emulation yet "
            f"(covered: the Debian architectures {covered}, such as targets aarch64 and "
            "armv7): use runner = \"qemu\" for it"
        )
    return platform
