"""The static-check corpus: real binaries built with the installed cross compilers.

Every binary is built once per session through `cross_build` (cached on disk,
xdist-safe); nothing is committed. Names say what each binary is for.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.support.build import CrossBuilder

HELLO = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n'
LIBRARY = "int answer(void) { return 42; }\n"
# A freestanding program: no libc, so it links for ABIs Debian ships no libraries for.
FREESTANDING = "void _start(void) { for (;;) {} }\n"
GTEST_LIKE = '#include <stdio.h>\nint main(void) { puts("--gtest_list_tests"); return 0; }\n'

LIBFOO = "int foo_old(void) { return 1; }\nint foo_new(void) { return 2; }\n"
USES_FOO = "int foo_new(void);\nint main(void) { return foo_new() - 2; }\n"
LIBBAR = "int foo_new(void);\nint bar(void) { return foo_new(); }\n"
USES_BAR = "int bar(void);\nint main(void) { return bar() - 2; }\n"
# libfoo.so.1 as built (FOO_2.0 adds foo_new) and an older one (everything in FOO_1.0).
FOO_V2 = "FOO_1.0 { global: foo_old; local: *; };\nFOO_2.0 { global: foo_new; } FOO_1.0;\n"
FOO_V1 = "FOO_1.0 { global: foo_old; foo_new; local: *; };\n"

LINKAGES = {
    "static": ("-static",),
    "dynamic": ("-no-pie",),
    "pie": ("-fPIE", "-pie"),
    "shared": ("-shared", "-fPIC"),
}
EXPECTED_KIND = {
    "static": ("executable", "static"),
    "dynamic": ("executable", "dynamic"),
    "pie": ("pie", "dynamic"),
    "shared": ("shared-object", "dynamic"),
}


class Corpus:
    """Named corpus binaries, built on first use."""

    def __init__(self, builder: CrossBuilder) -> None:
        self.builder = builder

    def _script(self, name: str, text: str) -> str:
        """A linker version script under the build root (written atomically, once)."""
        path = self.builder.root / name
        if not path.exists() or path.read_text() != text:
            partial = path.with_suffix(f".{os.getpid()}.partial")
            partial.write_text(text)
            os.replace(partial, path)
        return str(path)

    def clean(self, target: str, linkage: str) -> Path:
        """A correct binary for `target`: static, dynamic, pie or shared."""
        source = LIBRARY if linkage == "shared" else HELLO
        name = "libanswer.so" if linkage == "shared" else "hello"
        return self.builder.build(target, source, *LINKAGES[linkage], name=f"{linkage}-{name}")

    def hello(self, target: str, *flags: str) -> Path:
        return self.builder.build(target, HELLO, *flags, name="hello")

    def freestanding(self, target: str, *flags: str) -> Path:
        return self.builder.build(target, FREESTANDING, "-nostdlib", "-static", *flags,
                                  name="freestanding")

    def libfoo(self, version: int) -> Path:
        script = self._script(f"foo-v{version}.map", FOO_V2 if version == 2 else FOO_V1)
        return self.builder.build(
            "aarch64", LIBFOO, "-shared", "-fPIC", "-Wl,-soname,libfoo.so.1",
            f"-Wl,--version-script={script}", name="libfoo.so.1",
        )

    def uses_foo(self) -> Path:
        """Needs libfoo.so.1 (foo_new@FOO_2.0), found through RUNPATH $ORIGIN."""
        return self.builder.build("aarch64", USES_FOO, str(self.libfoo(2)), "-Wl,-rpath,$ORIGIN",
                                  name="uses-foo")

    def libbar(self) -> Path:
        return self.builder.build(
            "aarch64", LIBBAR, "-shared", "-fPIC", "-Wl,-soname,libbar.so.1",
            str(self.libfoo(2)), "-Wl,-rpath,$ORIGIN", name="libbar.so.1",
        )

    def uses_bar(self) -> Path:
        """Needs libbar.so.1, which needs libfoo.so.1."""
        libfoo = self.libfoo(2)
        return self.builder.build(
            "aarch64", USES_BAR, str(self.libbar()), f"-Wl,-rpath-link,{libfoo.parent}",
            "-Wl,-rpath,$ORIGIN", name="uses-bar",
        )


def install(folder: Path, *files: Path, names: tuple[str, ...] = ()) -> Path:
    """Copy `files` into `folder` (renamed to `names` when given); returns the first copy."""
    folder.mkdir(parents=True, exist_ok=True)
    copies = []
    for index, source in enumerate(files):
        destination = folder / (names[index] if index < len(names) else source.name)
        shutil.copy2(source, destination)
        copies.append(destination)
    return copies[0]
