"""Targets: the model and its registry (`model`), and which code runs where (`compat`)."""

from __future__ import annotations

from .compat import (
    binfmt_magic,
    binfmt_mask,
    elf_headers,
    has_target_identity,
    host_executes,
    kernel_runs_natively,
    libc_counterpart,
    machine_runs,
    multiarch_names,
    same_isa,
    uses_musl,
)
from .model import (
    ELF_MAGIC,
    Target,
    TargetRegistry,
    builtin_registry,
    host_target,
    make_target,
    resolve_target,
    simulated_host,
)

__all__ = [
    "ELF_MAGIC", "Target", "TargetRegistry", "binfmt_magic", "binfmt_mask", "builtin_registry",
    "elf_headers", "has_target_identity", "host_executes", "host_target",
    "kernel_runs_natively", "libc_counterpart", "machine_runs", "make_target",
    "multiarch_names", "resolve_target", "same_isa", "simulated_host", "uses_musl",
]
