"""The package imports, exposes its public API, and keeps pytest out of the library."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pytest_xarch


def test_public_api_resolves_a_target() -> None:
    assert str(pytest_xarch.resolve_target("arm64")) == "aarch64"


def test_every_public_name_is_there() -> None:
    for name in pytest_xarch.__all__:
        assert getattr(pytest_xarch, name) is not None, name
    assert set(pytest_xarch.__all__) <= set(dir(pytest_xarch))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pytest_xarch.nope  # noqa: B018


def _imported_after(code: str) -> set[str]:
    script = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    return set(completed.stdout.split())


def test_the_library_does_not_import_pytest() -> None:
    modules = _imported_after(
        "import pytest_xarch\n"
        "from pytest_xarch import run, check, load_settings, resolve_target, Fidelity\n"
        "import pytest_xarch.cli, pytest_xarch.commands.run, pytest_xarch.commands.targets"
    )
    assert "pytest_xarch.api" in modules
    assert "pytest" not in modules and "_pytest" not in modules


def test_xarch_run_start_up_imports_only_what_running_needs() -> None:
    modules = _imported_after("import pytest_xarch.cli, pytest_xarch.commands.run")
    # the command line is parsed before anything heavy is imported
    assert not {"pytest_xarch.checks", "elftools", "psutil", "pytest"} & modules


def test_fidelity_equals_and_hashes_like_its_name() -> None:
    from pytest_xarch import Fidelity

    assert "emulated" in {Fidelity.EMULATED}
    assert Fidelity.EMULATED in {"emulated"}
    assert {Fidelity.NATIVE: 1}.get("native") == 1
    assert Fidelity.EMULATED == "Emulated " and Fidelity.EMULATED != "native"
    assert min(Fidelity.HARDWARE, Fidelity.STATIC, Fidelity.NATIVE) is Fidelity.STATIC
    assert Fidelity.EMULATED < Fidelity.NATIVE and Fidelity.HARDWARE >= "native"
    assert sorted(Fidelity, reverse=True)[0] is Fidelity.HARDWARE
    assert [str(level) for level in sorted(Fidelity)] == [
        "static", "emulated", "system", "native", "hardware"]
    assert not Fidelity.SYSTEM.is_silicon and Fidelity.NATIVE.is_silicon
