"""Configuration: discovery, precedence (env > file > defaults), validation and target tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_xarch.errors import ConfigError
from pytest_xarch.settings import (
    DEFAULT_EMULATION_FACTOR,
    DEFAULT_TIMEOUT,
    find_config_file,
    load_settings,
    split_targets,
)

PYPROJECT = """\
[project]
name = "demo"

[tool.pytest_xarch]
targets = ["aarch64", "armv7"]
timeout = 30
emulation_factor = 3

[tool.pytest_xarch.target.rpi4]
base = "aarch64"
cpu = "cortex-a72"
glibc = "2.31"
page_size = 16384
env = { GREETING = "hi" }
"""


def _load(directory: Path, **environ: str):  # type: ignore[no-untyped-def]
    return load_settings(directory, environ=environ)


def test_defaults_without_a_file(tmp_path: Path) -> None:
    settings = _load(tmp_path)
    assert settings.source is None
    assert settings.targets == []
    assert settings.timeout == DEFAULT_TIMEOUT
    assert settings.emulation_factor == DEFAULT_EMULATION_FACTOR
    assert settings.resolve("arm64").name == "aarch64"


def test_pyproject_table_is_read_and_targets_defined(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    settings = _load(tmp_path)
    assert settings.source == tmp_path / "pyproject.toml"
    assert settings.targets == ["aarch64", "armv7"]
    assert (settings.timeout, settings.emulation_factor) == (30.0, 3.0)
    rpi4 = settings.resolve("RPI4")
    assert (rpi4.name, rpi4.base, rpi4.cpu, rpi4.emulation_cpu) == (
        "rpi4", "aarch64", "cortex-a72", "cortex-a72")
    assert (rpi4.glibc, rpi4.page_size, dict(rpi4.env)) == ("2.31", 16384, {"GREETING": "hi"})
    assert rpi4.machine == 183
    assert rpi4.timeout == 30.0  # the configured default timeout applies to every target
    # a definition does not steal the base's aliases
    assert settings.resolve("arm64").name == "aarch64"


def test_environment_beats_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    settings = _load(
        tmp_path, XARCH_TARGETS="riscv64, x86_64", XARCH_TIMEOUT="7.5",
        XARCH_EMULATION_FACTOR="2",
    )
    assert settings.targets == ["riscv64", "x86_64"]
    assert (settings.timeout, settings.emulation_factor) == (7.5, 2.0)


@pytest.mark.parametrize("value", ["0", "-3", "soon"])
def test_bad_environment_number_is_named(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=f"XARCH_TIMEOUT={value!r}: expected a positive number"):
        _load(tmp_path, XARCH_TIMEOUT=value)


def test_xarch_toml_wins_over_pyproject_in_the_same_directory(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "xarch.toml").write_text('targets = ["s390x"]\n')
    settings = _load(tmp_path)
    assert settings.source == tmp_path / "xarch.toml"
    assert settings.targets == ["s390x"]


def test_discovery_walks_upwards_and_skips_pyprojects_without_the_table(tmp_path: Path) -> None:
    (tmp_path / "xarch.toml").write_text('targets = ["riscv64"]\n')
    inner = tmp_path / "pkg" / "sub"
    inner.mkdir(parents=True)
    (tmp_path / "pkg" / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_config_file(inner) == tmp_path / "xarch.toml"
    assert _load(inner).targets == ["riscv64"]


def test_nearest_file_wins(tmp_path: Path) -> None:
    (tmp_path / "xarch.toml").write_text('targets = ["riscv64"]\n')
    inner = tmp_path / "pkg"
    inner.mkdir()
    (inner / "pyproject.toml").write_text(PYPROJECT)
    assert find_config_file(inner) == inner / "pyproject.toml"


def test_xarch_config_names_a_file_explicitly(tmp_path: Path) -> None:
    chosen = tmp_path / "elsewhere.toml"
    chosen.write_text('timeout = 9\n')
    (tmp_path / "xarch.toml").write_text('timeout = 1\n')
    assert _load(tmp_path, XARCH_CONFIG=str(chosen)).timeout == 9.0
    with pytest.raises(ConfigError, match="does not exist"):
        _load(tmp_path, XARCH_CONFIG=str(tmp_path / "missing.toml"))


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "xarch.toml").write_text("targets = [\n")
    with pytest.raises(ConfigError, match=r"xarch.toml: invalid TOML"):
        _load(tmp_path)


def test_unknown_key_names_file_key_and_known_keys(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pytest_xarch]\ntimeuot = 3\n")
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path)
    message = str(caught.value)
    assert str(tmp_path / "pyproject.toml") in message
    assert "unknown key 'tool.pytest_xarch.timeuot'" in message
    assert "timeout" in message


def test_unknown_key_in_a_target_table(tmp_path: Path) -> None:
    (tmp_path / "xarch.toml").write_text('[target.rpi4]\nbase = "aarch64"\ncpus = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'target\.rpi4\.cpus'"):
        _load(tmp_path)


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ('timeout = "soon"\n', "timeout", "a positive number of seconds"),
        ("timeout = true\n", "timeout", "a positive number of seconds"),
        ('targets = "aarch64"\n', "targets", "a list of target names"),
        ("canary = 1\n", "canary", "true or false"),
        ('[target.x]\nbase = "aarch64"\nglibc = "2"\n', "target.x.glibc", "glibc version"),
        ('[target.x]\nbase = "aarch64"\npage_size = 5000\n', "target.x.page_size",
         "power of two"),
        ('[target.x]\nbase = "aarch64"\nenv = { A = 1 }\n', "target.x.env", "string values"),
        ('[target.x]\nbase = "aarch64"\nrunner = "SSH me"\n', "target.x.runner", "ssh://"),
    ],
)
def test_wrong_type_names_key_and_expectation(
    tmp_path: Path, text: str, key: str, expected: str
) -> None:
    (tmp_path / "xarch.toml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path)
    message = str(caught.value)
    assert f"'{key}'" in message
    assert expected in message
    assert "xarch.toml" in message


def test_target_table_that_is_not_a_table(tmp_path: Path) -> None:
    (tmp_path / "xarch.toml").write_text('target = { rpi4 = "aarch64" }\n')
    with pytest.raises(ConfigError, match=r"target\.rpi4 must be a table"):
        _load(tmp_path)


def test_unknown_base_names_the_table_and_suggests(tmp_path: Path) -> None:
    (tmp_path / "xarch.toml").write_text('[target.board]\nbase = "aarch46"\n')
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path)
    message = str(caught.value)
    assert "[target.board] base" in message
    assert "unknown target 'aarch46'" in message
    assert "Did you mean 'aarch64'?" in message


def test_new_target_without_base_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "xarch.toml").write_text('[target.board]\ncpu = "cortex-a72"\n')
    with pytest.raises(ConfigError, match=r"\[target.board\] needs `base"):
        _load(tmp_path)


def test_cyclic_bases_are_named(tmp_path: Path) -> None:
    (tmp_path / "xarch.toml").write_text(
        '[target.a]\nbase = "b"\n[target.b]\nbase = "c"\n[target.c]\nbase = "a"\n'
    )
    with pytest.raises(ConfigError, match=r"defined in terms of itself \(a -> b -> c -> a\)"):
        _load(tmp_path)


def test_targets_can_build_on_defined_targets(tmp_path: Path) -> None:
    (tmp_path / "xarch.toml").write_text(
        '[target.bullseye]\nbase = "rpi4"\nglibc = "2.31"\n'
        '[target.rpi4]\nbase = "arm64"\ncpu = "cortex-a72"\n'
    )
    bullseye = _load(tmp_path).resolve("bullseye")
    assert (bullseye.cpu, bullseye.glibc, bullseye.triple) == (
        "cortex-a72", "2.31", "aarch64-linux-gnu")


def test_a_table_named_after_a_builtin_adjusts_it_and_keeps_its_aliases(tmp_path: Path) -> None:
    (tmp_path / "xarch.toml").write_text('[target.aarch64]\ncpu = "cortex-a72"\ntimeout = 5\n')
    settings = _load(tmp_path)
    adjusted = settings.resolve("arm64")
    assert (adjusted.name, adjusted.cpu, adjusted.timeout) == ("aarch64", "cortex-a72", 5)


def test_split_targets() -> None:
    assert split_targets(" aarch64, armv7 ,,riscv64 ") == ["aarch64", "armv7", "riscv64"]


def test_a_relative_sysroot_is_relative_to_its_file(tmp_path: Path) -> None:
    (tmp_path / "xarch.toml").write_text(
        '[target.a]\nbase = "aarch64"\nsysroot = "roots/a"\n'
        '[target.b]\nbase = "aarch64"\nsysroot = "/opt/b"\n')
    settings = load_settings(path=tmp_path / "xarch.toml", environ={})
    assert settings.resolve("a").sysroot == str(tmp_path / "roots" / "a")
    assert settings.resolve("b").sysroot == "/opt/b"
