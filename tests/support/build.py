"""Cross-compiling small C programs for tests, once per session per (target, source, flags)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from filelock import FileLock

from pytest_xarch.process import run_tool
from pytest_xarch.targets import Target, resolve_target

from .tools import require_tool


class CrossBuilder:
    """Builds C sources with the GNU cross compiler of a target, cached in `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def compiler(self, target: Target) -> str:
        """The GNU cross gcc of `target` (the host gcc for x86_64)."""
        package = target.packages[0] if target.packages else "gcc"
        return require_tool(f"{target.triple}-gcc", package)

    def build(
        self, target: str | Target, source: str, *flags: str, name: str = "prog", lang: str = "c"
    ) -> Path:
        """Compile `source` (C text) for `target` with `flags`; returns the executable."""
        target = resolve_target(target)
        compiler = self.compiler(target)
        if lang == "c++":
            compiler = compiler[: -len("gcc")] + "g++"
        key = hashlib.sha256(
            "\0".join([target.name, compiler, lang, source, *flags]).encode()
        ).hexdigest()[:16]
        folder = self.root / f"{target.name}-{key}"
        output = folder / name
        with FileLock(str(folder) + ".lock"):
            if output.exists():
                return output
            folder.mkdir(exist_ok=True)
            suffix = ".cpp" if lang == "c++" else ".c"
            source_path = folder / f"{name}{suffix}"
            source_path.write_text(source)
            partial = folder / f".{name}.partial"
            completed = run_tool(
                [compiler, "-O1", "-o", str(partial), str(source_path), *flags], timeout=300
            )
            if completed.returncode != 0:
                raise AssertionError(f"cross build for {target.name} failed:\n{completed.stderr}")
            partial.rename(output)
        return output
