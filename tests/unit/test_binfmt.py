"""binfmt_misc entries without touching the kernel: parsing, matching, registration lines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pytest_xarch import binfmt_misc
from pytest_xarch.binfmt_misc import Handler, parse_entry, registration
from pytest_xarch.errors import SetupError
from pytest_xarch.runners import GuestEnvironment, runner_for
from pytest_xarch.runners.binfmt import BinfmtRunner
from pytest_xarch.targets import binfmt_magic, binfmt_mask, builtin_registry, resolve_target

DEBIAN_PPC64LE = """enabled
interpreter /usr/libexec/qemu-binfmt/ppc64le-binfmt-P
flags: POCF
offset 0
magic 7f454c4602010100000000000000000002001500
mask ffffffffffffff00fffffffffffffffffeffff00
"""
JAR = """enabled
interpreter /usr/bin/jexec
flags:
extension .jar
"""


def test_parse_entry_reads_every_field() -> None:
    handler = parse_entry("qemu-ppc64le", DEBIAN_PPC64LE)
    assert handler.enabled and not handler.ours
    assert handler.interpreter == "/usr/libexec/qemu-binfmt/ppc64le-binfmt-P"
    assert handler.flags == "POCF"
    assert handler.magic == bytes.fromhex("7f454c4602010100000000000000000002001500")
    assert handler.serves(resolve_target("ppc64le"))
    assert not handler.serves(resolve_target("aarch64"))
    jar = parse_entry("jar", JAR)
    assert jar.extension == ".jar" and jar.magic is None
    assert not jar.serves(resolve_target("aarch64"))


@pytest.mark.parametrize("target", [t.name for t in builtin_registry() if not t.base])
def test_our_magic_catches_exactly_the_targets_of_the_same_machine(target: str) -> None:
    mine = resolve_target(target)
    handler = Handler("xarch-x", True, "/q", "F", magic=binfmt_magic(mine), mask=binfmt_mask(mine))
    for other in builtin_registry():
        same = (other.machine, other.bits, other.endian) == (mine.machine, mine.bits, mine.endian)
        assert handler.serves(other) == same, other.name


def test_debian_handlers_and_ours_catch_the_same_targets() -> None:
    folder = Path("/usr/share/binfmts")
    if not folder.is_dir():
        pytest.skip("qemu-user-static's /usr/share/binfmts is not installed")
    for target in builtin_registry():
        spec = folder / f"qemu-{target.qemu}"
        if not spec.exists():
            continue  # Debian registers nothing for the host's own family
        fields = dict(line.split(" ", 1) for line in spec.read_text().splitlines())
        unescape = lambda text: bytes(int(h, 16) for h in text.strip().split("\\x")[1:])  # noqa: E731
        debian = Handler("qemu", True, "/q", "F", magic=unescape(fields["magic"]),
                         mask=unescape(fields["mask"]))
        assert debian.serves(target), target.name
        assert debian.magic is not None
        ours = Handler("xarch", True, "/q", "F", magic=binfmt_magic(target),
                       mask=binfmt_mask(target))
        assert ours.matches(debian.magic), target.name


def test_registration_line_escapes_every_byte() -> None:
    target = resolve_target("aarch64")
    line = registration("xarch-aarch64", binfmt_magic(target), binfmt_mask(target),
                        "/usr/bin/qemu-aarch64-static", "PF")
    assert line.startswith(":xarch-aarch64:M:0:\\x7f\\x45\\x4c\\x46\\x02")
    assert line.endswith(":/usr/bin/qemu-aarch64-static:PF")
    assert line.count("\\x") == 40
    assert "\x00" not in line


@pytest.mark.parametrize("name, interpreter, flags, problem", [
    ("bad:name", "/q", "F", "entry name"),
    ("ok", "/q:x", "F", "must not contain"),
    ("ok", "/q", "X", "flags"),
])
def test_registration_rejects_what_the_kernel_would_misread(
    name: str, interpreter: str, flags: str, problem: str
) -> None:
    with pytest.raises(SetupError, match=problem):
        registration(name, b"\x7f", b"\xff", interpreter, flags)


def test_register_refuses_a_magic_that_catches_host_programs(tmp_path: Path) -> None:
    (tmp_path / "register").write_text("")
    with pytest.raises(SetupError, match="this host's own"):
        binfmt_misc.register("xarch-all", b"\x7fELF", b"\xff\xff\xff\xff", "/q", "F",
                             root=tmp_path)
    assert (tmp_path / "register").read_text() == ""


def test_handlers_reads_a_binfmt_directory(tmp_path: Path) -> None:
    (tmp_path / "register").write_text("")
    (tmp_path / "status").write_text("enabled\n")
    (tmp_path / "qemu-ppc64le").write_text(DEBIAN_PPC64LE)
    (tmp_path / "xarch-ppc64le").write_text(DEBIAN_PPC64LE.replace("enabled", "disabled"))
    (tmp_path / "jar").write_text(JAR)
    ppc = resolve_target("ppc64le")
    assert [h.name for h in binfmt_misc.handlers(tmp_path)] == [
        "jar", "qemu-ppc64le", "xarch-ppc64le"]
    assert [h.name for h in binfmt_misc.handlers_for(ppc, tmp_path)] == [
        "xarch-ppc64le", "qemu-ppc64le"]
    active = binfmt_misc.active_handler(ppc, tmp_path)
    assert active is not None and active.name == "qemu-ppc64le"  # ours is disabled
    removed = binfmt_misc.remove([resolve_target("aarch64")], tmp_path)
    assert removed == []
    (tmp_path / "status").write_text("disabled\n")
    assert binfmt_misc.active_handler(ppc, tmp_path) is None


def test_install_skips_the_hosts_own_architecture(tmp_path: Path) -> None:
    outcome = binfmt_misc.install(resolve_target(os.uname().machine), root=tmp_path)
    assert outcome.action == "skipped"


def test_choose_interpreter_prefers_a_static_qemu() -> None:
    if not os.path.exists("/usr/bin/qemu-aarch64-static"):
        pytest.skip("qemu-user-static is not installed")
    chosen = binfmt_misc.choose_interpreter(resolve_target("aarch64"))
    assert "F" in chosen.flags
    assert binfmt_misc.is_static(chosen.path)


def test_binfmt_runner_passes_cpu_and_sysroot_in_the_environment(tmp_path: Path) -> None:
    sysroot = tmp_path / "root"
    sysroot.mkdir()
    runner = BinfmtRunner(resolve_target("aarch64"), cpu="cortex-a72", sysroot=str(sysroot))
    host = runner.command("/bin/prog", ["a b"], GuestEnvironment({}, {"KEEP": "1"}),
                          str(tmp_path))
    argv, env = host.argv, host.env
    assert argv == ["/bin/prog", "a b"]
    assert env["QEMU_CPU"] == "cortex-a72"
    assert env["QEMU_LD_PREFIX"] == str(sysroot)
    assert env["KEEP"] == "1"
    assert runner.prefix() == ["env", "QEMU_CPU=cortex-a72", f"QEMU_LD_PREFIX={sysroot}"]


def test_runner_binfmt_is_a_registered_kind() -> None:
    import dataclasses

    target = dataclasses.replace(resolve_target("riscv64"), runner="binfmt")
    runner = runner_for(target)
    assert isinstance(runner, BinfmtRunner)
    assert runner.kind == "binfmt"


def test_mount_treats_someone_else_mounting_meanwhile_as_success(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel refuses a second mount ("already mounted"): mounted is mounted."""
    import subprocess

    def racing_mount(argv: list[str], **_: object) -> subprocess.CompletedProcess[str]:
        (tmp_path / "register").write_text("")  # the other mounter won
        return subprocess.CompletedProcess(argv, 32, "", "binfmt_misc already mounted")

    monkeypatch.setattr(binfmt_misc.os, "geteuid", lambda: 0)
    monkeypatch.setattr(binfmt_misc, "run_tool", racing_mount)
    assert binfmt_misc.mount(tmp_path) is False
    assert binfmt_misc.mount(tmp_path) is False  # mounted already: nothing to do


def test_mount_failure_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    monkeypatch.setattr(binfmt_misc.os, "geteuid", lambda: 0)
    monkeypatch.setattr(binfmt_misc, "run_tool", lambda argv, **_: subprocess.CompletedProcess(
        argv, 32, "", "unknown filesystem type 'binfmt_misc'"))
    with pytest.raises(SetupError, match=r"unknown filesystem type.*modprobe binfmt_misc"):
        binfmt_misc.mount(tmp_path)
