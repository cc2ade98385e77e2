"""The loader model: search order, ld.so.cache, glibc builds and QEMU's -L path mapping."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

from pytest_xarch.elf import read_facts
from pytest_xarch.guestfs import GuestFS
from pytest_xarch.loader import (
    LoaderModel,
    builtin_dirs,
    glibc_build,
    glibc_release,
    glibc_version,
    read_cache,
)
from pytest_xarch.targets import resolve_target

from .test_elf import make_elf, write

AARCH64_KIND, X86_64_KIND = 0x0A03, 0x0303  # ld.so.cache flags: ELF libc6 + machine


def make_cache(entries: list[tuple[int, str, str]]) -> bytes:
    """An ld.so.cache in glibc's new format: (flags, name, path) entries."""
    strings = b""
    offsets = []
    base = 48 + 24 * len(entries)
    for _, name, path in entries:
        key = base + len(strings)
        strings += name.encode() + b"\0"
        value = base + len(strings)
        strings += path.encode() + b"\0"
        offsets.append((key, value))
    header = b"glibc-ld.so.cache1.1" + struct.pack("<IIB3xI12x", len(entries), len(strings), 2, 0)
    table = b"".join(struct.pack("<iIIIQ", flags, key, value, 0, 0)
                     for (flags, _, _), (key, value) in zip(entries, offsets))
    return header + table + strings


def test_builtin_dirs_put_multiarch_first() -> None:
    assert builtin_dirs(resolve_target("aarch64")) == [
        "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64",
        "/lib", "/usr/lib"]
    armv7 = builtin_dirs(resolve_target("armv7"))
    assert armv7[:2] == ["/lib/arm-linux-gnueabihf", "/usr/lib/arm-linux-gnueabihf"]
    assert "/lib64" not in armv7
    assert "/lib/i386-linux-gnu" in builtin_dirs(resolve_target("i686"))


def test_the_cache_gives_only_entries_of_the_targets_kind(tmp_path: Path) -> None:
    cache = tmp_path / "ld.so.cache"
    cache.write_bytes(make_cache([
        (X86_64_KIND, "libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"),
        (AARCH64_KIND, "libz.so.1", "/opt/arm64/libz.so.1"),
        (AARCH64_KIND, "libssl.so.3", "/opt/arm64/libssl.so.3"),
    ]))
    assert read_cache(cache, resolve_target("aarch64")) == {
        "libz.so.1": "/opt/arm64/libz.so.1", "libssl.so.3": "/opt/arm64/libssl.so.3"}
    assert read_cache(cache, resolve_target("x86_64")) == {
        "libz.so.1": "/lib/x86_64-linux-gnu/libz.so.1"}
    assert read_cache(cache, resolve_target("riscv64")) == {}


def test_a_damaged_or_foreign_cache_gives_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "ld.so.cache"
    cache.write_bytes(make_cache([(AARCH64_KIND, "libz.so.1", "/x")])[:60])
    assert read_cache(cache, resolve_target("aarch64")) == {}
    cache.write_bytes(b"not a cache at all")
    assert read_cache(cache, resolve_target("aarch64")) == {}
    assert read_cache(tmp_path / "absent", resolve_target("aarch64")) == {}


def test_glibc_builds_from_the_banners(tmp_path: Path) -> None:
    libc = write(tmp_path, make_elf(e_type=3, tail=b"GNU C Library (Debian GLIBC 2.36-9+deb12u4) "
                                    b"stable release version 2.36.\n"), "libc.so.6")
    loader = write(tmp_path, make_elf(e_type=3, tail=b"ld.so (Debian GLIBC 2.36-8) stable "
                                      b"release version 2.36.\n"), "ld.so")
    dev = write(tmp_path, make_elf(e_type=3, tail=b"GNU C Library (GNU libc) development "
                                   b"release version 2.40.9000.\n"), "dev.so")
    assert glibc_build(libc) == "Debian GLIBC 2.36-9+deb12u4 (2.36)"
    assert glibc_build(loader) == "Debian GLIBC 2.36-8 (2.36)"
    assert glibc_build(dev) == "GNU libc (2.40)"
    assert glibc_version(glibc_build(libc)) == glibc_release(libc) == "2.36"
    assert glibc_build(write(tmp_path, make_elf(), "plain")) is None


def test_qemu_prefix_first_then_the_host(tmp_path: Path) -> None:
    prefix, host = tmp_path / "prefix", tmp_path / "host"
    (prefix / "lib").mkdir(parents=True)
    host.mkdir()
    (prefix / "lib" / "a").write_text("prefix")
    (host / "b").write_text("host")
    fs = GuestFS(prefix)
    assert fs.locate("/lib/a") == prefix / "lib" / "a"
    assert fs.locate(str(host / "b")) == host / "b"  # not in the prefix: the host's path
    assert fs.locate("/lib/nothing-xarch") is None
    (prefix / "lib" / "link").symlink_to(host / "b")  # host symlinks are followed
    assert fs.is_file("/lib/link")
    assert GuestFS().locate(str(host / "b")) == host / "b"


def _program(tmp_path: Path, **dynamic: object) -> tuple[Path, object]:
    path = write(tmp_path, make_elf(interp="/lib/ld-linux-aarch64.so.1"), "prog")
    return path, dataclasses.replace(read_facts(path), needed=("libfoo.so.1",), **dynamic)


def _library(folder: Path, machine: int = 183) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write(folder, make_elf(e_type=3, machine=machine, tail=folder.name.encode()),
                 "libfoo.so.1")


def _found(model: LoaderModel, program: Path, facts: object) -> Path:
    resolution = model.resolve(program, facts)  # type: ignore[arg-type]
    assert resolution.missing == []
    return resolution.loaded[0].path


def test_search_order_rpath_library_path_runpath(tmp_path: Path) -> None:
    rpath, env, runpath = (_library(tmp_path / name).parent for name in ("r", "e", "u"))
    model = LoaderModel(resolve_target("aarch64"), GuestFS(), (str(env),))
    program, facts = _program(tmp_path, rpath=(str(rpath),))
    assert _found(model, program, facts).parent == rpath  # DT_RPATH before LD_LIBRARY_PATH
    program, facts = _program(tmp_path, rpath=(str(rpath),), runpath=(str(runpath),))
    assert _found(model, program, facts).parent == env  # RUNPATH disables RPATH, comes after
    no_env = LoaderModel(resolve_target("aarch64"), GuestFS())
    assert _found(no_env, program, facts).parent == runpath


def test_origin_and_incompatible_candidates(tmp_path: Path) -> None:
    _library(tmp_path / "wrong", machine=62)  # an x86-64 libfoo first on the path: skipped
    _library(tmp_path / "lib")
    program, facts = _program(tmp_path, runpath=("$ORIGIN/wrong", "${ORIGIN}/lib"))
    model = LoaderModel(resolve_target("aarch64"), GuestFS())
    assert _found(model, program, facts) == tmp_path / "lib" / "libfoo.so.1"
    resolution = model.resolve(program, dataclasses.replace(facts, runpath=("$ORIGIN/wrong",)))
    (missing,) = resolution.missing  # type: ignore[union-attr]
    assert missing.name == "libfoo.so.1" and f"{tmp_path}/wrong" in missing.searched


def test_libraries_through_rpath_are_the_programs_own(tmp_path: Path) -> None:
    _library(tmp_path / "build")
    program, facts = _program(tmp_path, runpath=(str(tmp_path / "build"),))
    (loaded,) = LoaderModel(resolve_target("aarch64"), GuestFS()).resolve(
        program, facts).loaded  # type: ignore[arg-type]
    assert not loaded.system and loaded.needed_by == "prog"
