"""qemu/provision.py: which packages it wants, its TOML fallback, and its refusals (no apt run)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from pytest_xarch.targets import builtin_registry, host_target
from tests.support.tools import require_tool

SCRIPT = Path(__file__).resolve().parents[2] / "qemu" / "provision.py"


@pytest.fixture(scope="module")
def provision() -> ModuleType:
    spec = importlib.util.spec_from_file_location("provision", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["provision"] = module
    spec.loader.exec_module(module)
    return module


def test_fallback_parser_reads_the_target_table_like_tomllib(provision: ModuleType) -> None:
    text = provision.TARGET_TABLE.read_text()
    assert provision._parse_simple_toml(text) == provision.load_table()


def test_default_packages_come_from_the_target_table(provision: ModuleType) -> None:
    tables = provision.load_table()
    chosen = provision.resolve(list(provision.DEFAULT_TARGETS), tables)
    packages = provision.packages_for(chosen, tables, test_tools=True)
    assert packages[:2] == ["qemu-user", "qemu-user-static"]
    for name in provision.DEFAULT_TARGETS:
        for package in builtin_registry().resolve(name).packages:
            assert package in packages
    for tool in ("cmake", "golang-go", "openssh-server", "binutils", "python3-venv"):
        assert tool in packages
    assert len(packages) == len(set(packages))


def test_the_host_target_gets_the_native_compiler(provision: ModuleType) -> None:
    tables = provision.load_table()
    host = host_target().name
    packages = provision.packages_for([host], tables, test_tools=False)
    assert "gcc" in packages and "g++" in packages
    for package in tables[host].get("packages", []):
        assert package not in packages  # no "cross" compiler from a machine to itself


def test_targets_resolve_by_any_table_spelling(provision: ModuleType) -> None:
    tables = provision.load_table()
    assert provision.resolve(["arm64", "armhf", "riscv64", "aarch64"], tables) == [
        "aarch64", "armv7", "riscv64"]
    with pytest.raises(provision.ProvisionError, match=r"unknown target 'sparc'.*known targets"):
        provision.resolve(["sparc"], tables)


def test_non_debian_systems_are_refused_with_a_clear_message(
    provision: ModuleType, tmp_path: Path
) -> None:
    release = tmp_path / "os-release"
    release.write_text('ID=fedora\nPRETTY_NAME="Fedora Linux 40"\n')
    with pytest.raises(provision.ProvisionError, match=r"Fedora Linux 40.*Debian and Ubuntu"):
        provision.check_platform(release)
    release.write_text('ID=linuxmint\nID_LIKE="ubuntu debian"\n')
    if provision.shutil.which("apt-get"):
        provision.check_platform(release)  # a derivative is fine


def test_not_root_without_sudo_is_refused(
    provision: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(provision.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(provision.shutil, "which", lambda name: None)
    with pytest.raises(provision.ProvisionError, match=r"needs root.*sudo is not installed"):
        provision.privilege_prefix()
    monkeypatch.setattr(provision.shutil, "which", lambda name: "/usr/bin/sudo")
    assert provision.privilege_prefix() == ["sudo"]


def test_dry_run_reports_and_installs_nothing(
    provision: ModuleType, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    require_tool("dpkg-query", "dpkg")
    monkeypatch.setattr(provision, "apt", lambda *args: pytest.fail("apt-get must not run"))
    assert provision.main(["--dry-run", "--targets", "aarch64"]) == 0
    output = capsys.readouterr().out
    assert "provision: targets: aarch64" in output
    assert "nothing to do" in output or "dry run: not installing" in output
    assert provision.main(["--targets", "sparc"]) == 1


def test_multiarch_packages_are_qualified_by_architecture(provision: ModuleType) -> None:
    assert provision.multiarch_packages([]) == []
    assert provision.multiarch_packages(["arm64", "armhf"]) == [
        "libc6:arm64", "libstd-rust-dev:arm64", "libc6:armhf", "libstd-rust-dev:armhf",
        "rustc", "cargo"]


def test_installed_foreign_packages_are_told_apart(
    provision: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    listing = ("libc6:amd64 installed\nlibc6:arm64 installed\n"
               "libstd-rust-dev:arm64 not-installed\n")

    def dpkg_query(*args: object, **kwargs: object) -> object:
        return type("Completed", (), {"stdout": listing})()

    monkeypatch.setattr(provision.subprocess, "run", dpkg_query)
    assert provision.missing_packages(
        ["libc6", "libc6:arm64", "libc6:armhf", "libstd-rust-dev:arm64"]) == [
        "libc6:armhf", "libstd-rust-dev:arm64"]


def test_a_bad_multiarch_name_is_a_usage_error(
    provision: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        provision.main(["--multiarch", "arm64;rm", "--dry-run"])
    assert exit_.value.code == 2
    assert "not a Debian architecture name" in capsys.readouterr().err
