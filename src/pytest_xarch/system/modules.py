"""Kernel modules a guest needs, in the order to load them (from each module's .modinfo).

Debian's kernel packages ship no modules.dep (depmod writes it at install time),
so the dependencies are read from the `depends=` field of each module itself.
"""

from __future__ import annotations

from pathlib import Path

from elftools.elf.elffile import ELFFile

from ..errors import SetupError


def module_index(modules_dir: Path) -> dict[str, Path]:
    """Module name (`9pnet_virtio`) -> its .ko file, for every module under `modules_dir`."""
    return {path.name[:-3].replace("-", "_"): path for path in modules_dir.rglob("*.ko")}


def _depends(path: Path) -> list[str]:
    with open(path, "rb") as stream:
        section = ELFFile(stream).get_section_by_name(".modinfo")
        data = section.data() if section is not None else b""
    for field in data.split(b"\0"):
        if field.startswith(b"depends="):
            return [name.replace("-", "_") for name in field[8:].decode().split(",") if name]
    return []


def load_order(index: dict[str, Path], wanted: list[str]) -> list[Path]:
    """The .ko files of `wanted` and what they depend on, each after its dependencies.

    A wanted module the kernel lacks is left out (it may be built in); a missing
    dependency of one it has is an error, since that module would not load.
    """
    order: list[Path] = []
    done: set[str] = set()

    def visit(name: str, needed_by: str) -> None:
        if name in done:
            return
        done.add(name)
        path = index.get(name)
        if path is None:
            if needed_by:
                raise SetupError(f"kernel module {needed_by} needs {name}, which the kernel "
                                 "package does not contain")
            return
        for dependency in _depends(path):
            visit(dependency, name)
        order.append(path)

    for name in wanted:
        visit(name, "")
    return order
