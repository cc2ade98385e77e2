"""Missing pieces are clear SetupErrors before anything runs, naming the problem and the fix."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

from pytest_xarch import SetupError, UnknownTargetError, run
from pytest_xarch.errors import XarchError
from pytest_xarch.targets import resolve_target
from tests.integration.test_run import ECHO
from tests.support.build import CrossBuilder
from tests.support.tools import require_tool

# Prints each argument's bytes in hex, one per line.
HEXARGS = r"""
#include <stdio.h>
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        for (unsigned char *c = (unsigned char *)argv[i]; *c; c++) printf("%02x", *c);
        printf("\n");
    }
    return 0;
}
"""


def test_missing_program(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match=r"nope: no such file"):
        run("aarch64", [str(tmp_path / "nope")])


def test_program_not_executable(tmp_path: Path, cross_build: CrossBuilder) -> None:
    copy = tmp_path / "prog"
    shutil.copy(cross_build.build("aarch64", ECHO, "-static", name="echo"), copy)
    copy.chmod(0o644)
    with pytest.raises(SetupError, match=r"not executable \(chmod \+x"):
        run("aarch64", [str(copy)])


def test_program_is_a_directory(tmp_path: Path) -> None:
    with pytest.raises(SetupError, match="is a directory"):
        run("aarch64", [str(tmp_path)])


@pytest.mark.parametrize(("content", "kind"), [
    (b"#!/bin/sh\necho hi\n", "a script"),
    (b"MZ\x90\x00 not an elf at all", "not an ELF executable"),
])
def test_program_is_not_elf(tmp_path: Path, content: bytes, kind: str) -> None:
    program = tmp_path / "thing"
    program.write_bytes(content)
    program.chmod(0o755)
    with pytest.raises(SetupError, match=kind):
        run("aarch64", [str(program)])


def test_nothing_to_run() -> None:
    with pytest.raises(SetupError, match="nothing to run"):
        run("aarch64", [])


def test_unknown_target() -> None:
    with pytest.raises(UnknownTargetError, match="Did you mean 'riscv64'"):
        run("riscv46", ["/bin/true"])


def test_missing_qemu_names_the_package(
    tmp_path: Path, cross_build: CrossBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    program = cross_build.build("aarch64", ECHO, "-static", name="echo")
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without any qemu
    with pytest.raises(SetupError) as caught:
        run("aarch64", [str(program)])
    message = str(caught.value)
    assert "qemu-aarch64 not found" in message
    assert "apt-get install qemu-user" in message


def test_dynamic_binary_without_any_sysroot_names_the_package(cross_build: CrossBuilder) -> None:
    require_tool("qemu-aarch64", "qemu-user")
    program = cross_build.build("aarch64", ECHO, name="echo")
    nowhere = dataclasses.replace(resolve_target("aarch64"), triple="aarch64-nowhere-gnu")
    with pytest.raises(SetupError) as caught:
        run(nowhere, [str(program)])
    message = str(caught.value)
    assert "dynamically linked (loader /lib/ld-linux-aarch64.so.1)" in message
    assert "libc6-dev-arm64-cross" in message
    assert "--sysroot" in message


def test_dynamic_binary_with_a_sysroot_lacking_the_loader(
    tmp_path: Path, cross_build: CrossBuilder
) -> None:
    require_tool("qemu-aarch64", "qemu-user")
    program = cross_build.build("aarch64", ECHO, name="echo")
    with pytest.raises(SetupError, match=r"the sysroot .* does not contain /lib/ld-linux-aarch64"):
        run("aarch64", [str(program)], sysroot=str(tmp_path))


def test_static_binary_needs_no_sysroot(tmp_path: Path, cross_build: CrossBuilder) -> None:
    require_tool("qemu-aarch64", "qemu-user")
    program = cross_build.build("aarch64", ECHO, "-static", name="echo")
    nowhere = dataclasses.replace(resolve_target("aarch64"), triple="aarch64-nowhere-gnu")
    result = run(nowhere, [str(program)])
    assert result.ok, result.explain()
    assert "-L" not in result.command


def test_no_scratch_directories_are_left_behind(
    tmp_path: Path, cross_build: CrossBuilder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    require_tool("qemu-aarch64", "qemu-user")
    program = str(cross_build.build("aarch64", ECHO, "-static", name="echo"))
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    assert run("aarch64", [program, "1"]).returncode == 1  # a failed run keeps its QEMU log
    assert run("aarch64", [program]).ok
    assert os.listdir(private) == []


def test_a_fifo_or_a_device_is_refused_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    fifo.chmod(0o755)
    with pytest.raises(SetupError, match="is a FIFO, not a program file"):
        run("aarch64", [str(fifo)])
    with pytest.raises(SetupError, match="is a character device"):
        run("aarch64", ["/dev/zero"])


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), 1e300, -1.0, 0.0])
def test_unusable_library_timeouts_are_one_clear_error(timeout: float) -> None:
    with pytest.raises(XarchError, match="timeout"):
        run("aarch64", ["/bin/true"], timeout=timeout)


def test_bytes_arguments_reach_the_program_verbatim(cross_build: CrossBuilder) -> None:
    require_tool("qemu-aarch64", "qemu-user")
    program = cross_build.build("aarch64", HEXARGS, "-static", name="hexargs")
    result = run("aarch64", [str(program), b"\xff\xfe", "plain"])
    assert result.returncode == 0, result.explain()
    assert result.stdout == "fffe\n706c61696e\n"
