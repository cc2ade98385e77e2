"""ELF facts via pyelftools. Nothing here ever executes the file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from .errors import SetupError


def read_interp(path: str | Path) -> Optional[str]:
    """The program interpreter (PT_INTERP) of an ELF file, or None for a static one."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    try:
        with open(path, "rb") as stream:
            elf = ELFFile(stream)
            for segment in elf.iter_segments():
                if segment["p_type"] == "PT_INTERP":
                    return str(segment.get_interp_name())  # type: ignore[attr-defined]
    except ELFError as error:
        raise SetupError(f"{path}: not a readable ELF file ({error})") from None
    return None
