"""Cross compilers for a target (`compilers`), and a content-addressed build cache (`cache`)."""

from __future__ import annotations

from .cache import (
    BUILD_LOG,
    DEFAULT_BUILD_TIMEOUT,
    MANIFEST,
    build,
    build_key,
    trim_compiler_output,
)
from .compilers import (
    LANGS,
    BuildError,
    Compiler,
    clear_compiler_cache,
    find_compiler,
    zig_available,
)

__all__ = [
    "BUILD_LOG", "DEFAULT_BUILD_TIMEOUT", "LANGS", "MANIFEST", "BuildError", "Compiler",
    "build", "build_key", "clear_compiler_cache", "find_compiler",
    "trim_compiler_output", "zig_available",
]
