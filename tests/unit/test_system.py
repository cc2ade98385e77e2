"""The system runner's parts that need no guest: archives, mounts, loader rewriting, settings."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from pytest_xarch.elf import read_interp
from pytest_xarch.errors import ConfigError, SetupError
from pytest_xarch.roots import LibraryRoot
from pytest_xarch.settings.schema import Where, check_target_table
from pytest_xarch.system.cpio import CpioWriter
from pytest_xarch.system.image import SystemImage, _with_interpreter
from pytest_xarch.system.machine import Machine, MachineSpec, library_mounts, writable_dirs
from pytest_xarch.system.platforms import PLATFORMS, platform_for
from pytest_xarch.targets import resolve_target


def _read_cpio(data: bytes) -> list[tuple[str, int, bytes]]:
    """(name, mode, data) of each entry of a newc archive, the trailer included."""
    entries, offset = [], 0
    while True:
        assert data[offset:offset + 6] == b"070701"
        fields = [int(data[offset + 6 + 8 * i:offset + 14 + 8 * i], 16) for i in range(13)]
        mode, size, name_size = fields[1], fields[6], fields[11]
        start = offset + 110
        name = data[start:start + name_size - 1].decode()
        body = start + name_size + (-(110 + name_size) % 4)
        entries.append((name, mode, data[body:body + size]))
        offset = body + size + (-size % 4)
        if name == "TRAILER!!!":
            return entries


def test_cpio_archive_holds_files_directories_and_links_in_newc_form() -> None:
    stream = io.BytesIO()
    archive = CpioWriter(stream)
    archive.directory("xarch", 0o700)
    archive.file("/xarch/init", b"#!/bin/sh\n", 0o755)
    archive.symlink("xarch/sh", "busybox")
    archive.file("odd", b"12345")  # a size that needs padding
    archive.close()
    data = stream.getvalue()
    assert len(data) % 512 == 0
    entries = _read_cpio(data)
    shown = [(name, stat.S_IFMT(mode), stat.S_IMODE(mode), body) for name, mode, body in entries]
    assert shown == [
        ("xarch", stat.S_IFDIR, 0o700, b""), ("xarch/init", stat.S_IFREG, 0o755, b"#!/bin/sh\n"),
        ("xarch/sh", stat.S_IFLNK, 0o777, b"busybox"), ("odd", stat.S_IFREG, 0o644, b"12345"),
        ("TRAILER!!!", 0, 0, b""),
    ]


def test_two_archives_joined_are_both_read() -> None:
    stream = io.BytesIO()
    for name in ("first", "second"):
        archive = CpioWriter(stream)
        archive.file(name, name.encode())
        archive.close()
    data = stream.getvalue()
    first = _read_cpio(data)
    second = _read_cpio(data[len(data) // 2:])
    assert (first[0][0], second[0][0]) == ("first", "second")


def test_the_loader_path_is_rewritten_in_place(tmp_path: Path) -> None:
    program = Path(shutil.which("true") or "/bin/true")
    assert read_interp(str(program))
    patched = tmp_path / "true"
    original = program.read_bytes()
    patched.write_bytes(_with_interpreter(original, "/xarch/ld.so"))
    assert read_interp(str(patched)) == "/xarch/ld.so"
    assert len(patched.read_bytes()) == len(original)
    with pytest.raises(SetupError, match="longer"):
        _with_interpreter(original, "/" + "x" * 200)


def test_library_mounts_put_each_prefix_entry_over_its_host_path(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    (prefix / "lib").mkdir(parents=True)
    (prefix / "usr" / "lib").mkdir(parents=True)
    (prefix / "etc").mkdir()
    (prefix / "README").write_text("a file is no mount")
    root = LibraryRoot("sysroot", tmp_path, prefix)
    mounts = library_mounts(root)
    places = [mount.split("=", 1)[0] for mount in mounts]
    assert sorted(places) == sorted([os.path.realpath("/lib"), "/usr", "/etc"])
    assert places.index("/usr") < places.index(os.path.realpath("/lib")) or \
        os.path.realpath("/lib") == "/lib"  # /usr before /usr/lib, shallowest first
    assert f"/usr={prefix / 'usr'}" in mounts
    assert library_mounts(LibraryRoot("multiarch", Path("/"), None)) == []
    assert library_mounts(None) == []


def test_writable_dirs_are_the_temp_and_current_dirs_each_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = tmp_path / "work" / "inner"
    inside.mkdir(parents=True)
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    monkeypatch.chdir(inside)
    extra = tmp_path.parent / "elsewhere"
    extra.mkdir(exist_ok=True)
    chosen = writable_dirs([str(extra), str(tmp_path / "absent"), "/"])
    assert chosen == (str(tmp_path), str(extra))  # the cwd is inside the temp dir


def test_boot_config_is_safe_shell_for_the_guests_init(tmp_path: Path) -> None:
    image = SystemImage(tmp_path / "vmlinuz", (), "test")
    root = LibraryRoot("sysroot", tmp_path, tmp_path)
    (tmp_path / "odd dir; $(x)").mkdir()
    spec = MachineSpec(PLATFORMS["arm64"], image, "cortex-a53", 1, 256, root,
                       (str(tmp_path),), 10)
    config = Machine(spec)._boot_config()
    script = tmp_path / "boot.conf"
    script.write_text(config)
    shown = subprocess.run(
        ["sh", "-c", '. "$1"; for d in $HOST_DIRS; do echo "dir $d"; done; echo "w $WRITABLE"',
         "sh", str(script)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert "dir usr" in shown or "dir etc" in shown
    assert not any(line in ("dir proc", "dir sys", "dir dev", "dir run") for line in shown)
    assert f"w rw0={tmp_path}" in shown


def test_platform_covers_aarch64_and_armv7_and_names_what_it_covers() -> None:
    assert platform_for(resolve_target("aarch64")).qemu == "qemu-system-aarch64"
    assert platform_for(resolve_target("aarch64-musl")).debian_arch == "arm64"
    assert platform_for(resolve_target("armv7")).kernel_package == "linux-image-armmp-lpae"
    with pytest.raises(SetupError, match="armel"):
        platform_for(resolve_target("armel"))
    with pytest.raises(SetupError, match=r"riscv64.*cannot run under system emulation yet"
                                         r" \(covered: the Debian architectures arm64 and armhf"):
        platform_for(resolve_target("riscv64"))


@pytest.mark.parametrize(("key", "value"), [
    ("smp", 0), ("smp", 65), ("smp", "2"), ("memory", 64), ("memory", True),
    ("boot_timeout", -1), ("shared", "/tmp"), ("kernel", ""),
])
def test_system_settings_refuse_bad_values(key: str, value: object) -> None:
    with pytest.raises(ConfigError, match=f"target.aarch64.{key}"):
        check_target_table({key: value}, Where("file", "target.aarch64", "xarch.toml"))


def test_system_settings_take_good_values() -> None:
    check_target_table({"runner": "system", "smp": 4, "memory": 1024, "boot_timeout": 300,
                        "shared": ["/srv/data"], "kernel": "/boot/vmlinuz",
                        "initrd": "/boot/modules.cpio"},
                       Where("file", "target.aarch64", "xarch.toml"))


def test_compressed_modules_are_indexed_and_given_uncompressed(tmp_path: Path) -> None:
    import gzip
    import lzma

    from pytest_xarch.system.modules import module_bytes, module_index, module_name

    folder = tmp_path / "kernel" / "fs"
    folder.mkdir(parents=True)
    (folder / "9p.ko.xz").write_bytes(lzma.compress(b"nine"))
    (folder / "net-failover.ko.gz").write_bytes(gzip.compress(b"failover"))
    (folder / "plain.ko").write_bytes(b"plain")
    (folder / "modules.order").write_text("not a module")
    index = module_index(tmp_path)
    assert sorted(index) == ["9p", "net_failover", "plain"]
    assert [module_name(index[n]) for n in sorted(index)] == ["9p.ko", "net-failover.ko",
                                                              "plain.ko"]
    assert [module_bytes(index[n]) for n in sorted(index)] == [b"nine", b"failover", b"plain"]
