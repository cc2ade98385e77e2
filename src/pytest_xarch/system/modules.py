"""Kernel modules a guest needs, in the order to load them (from each module's .modinfo).

Debian's kernel packages ship no modules.dep (depmod writes it at install time),
so the dependencies are read from the `depends=` field of each module itself.
Modules may be compressed (`.ko.xz`, `.ko.gz`, as Debian 13 ships them); the
guest gets them uncompressed, which busybox's insmod loads.
"""

from __future__ import annotations

import gzip
import io
import lzma
from pathlib import Path

from elftools.elf.elffile import ELFFile

from ..errors import SetupError

_SUFFIXES = {".ko": lambda data: data, ".ko.xz": lzma.decompress, ".ko.gz": gzip.decompress}


def module_index(modules_dir: Path) -> dict[str, Path]:
    """Module name (`9pnet_virtio`) -> its file, for every module under `modules_dir`."""
    index = {}
    for path in modules_dir.rglob("*.ko*"):
        for suffix in _SUFFIXES:
            if path.name.endswith(suffix):
                index[path.name[:-len(suffix)].replace("-", "_")] = path
    return index


def module_name(path: Path) -> str:
    """`9p.ko` for `.../9p.ko.xz`: the file name the guest loads it from."""
    return path.name.split(".ko", 1)[0] + ".ko"


def module_bytes(path: Path) -> bytes:
    """The module, uncompressed."""
    for suffix, decompress in _SUFFIXES.items():
        if path.name.endswith(suffix):
            data: bytes = decompress(path.read_bytes())
            return data
    raise SetupError(f"{path}: not a kernel module (.ko, .ko.xz or .ko.gz)")


def _depends(path: Path) -> list[str]:
    section = ELFFile(io.BytesIO(module_bytes(path))).get_section_by_name(".modinfo")
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
