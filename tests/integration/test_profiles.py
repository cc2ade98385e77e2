"""CPU profiles catch ISA leaks: LSE atomics die on rpi3/rpi4, AVX2 dies on x86_64-v1, and a
CPU model the installed QEMU lacks is a clear error rather than QEMU's own."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from pytest_xarch import Fidelity, run
from pytest_xarch.errors import SetupError
from pytest_xarch.process import execute, run_tool
from pytest_xarch.qemu_facts import qemu_cpu_models, qemu_version
from pytest_xarch.runners import runner_for
from pytest_xarch.targets import resolve_target
from pytest_xarch.toolchain import build
from tests.support.tools import require_tool

# Compiled with -march=armv8.2-a -mno-outline-atomics, the fetch-add is an LSE `ldaddal`.
LSE = r"""
#include <stdio.h>
long counter;
int main(int argc, char **argv) {
    (void)argv;
    long old = __atomic_fetch_add(&counter, (long)argc * 5, __ATOMIC_SEQ_CST);
    printf("%ld %ld\n", old, counter);
    return 0;
}
"""

AVX2 = r"""
#include <immintrin.h>
#include <stdio.h>
int main(int argc, char **argv) {
    (void)argv;
    volatile int seed = argc;
    __m256i a = _mm256_set1_epi32(seed), b = _mm256_set1_epi32(seed * 2);
    __m256i sum = _mm256_add_epi32(a, b);          /* vpaddd ymm: AVX2 */
    int out[8];
    _mm256_storeu_si256((__m256i *)out, sum);
    printf("%d\n", out[0] + out[7]);
    return 0;
}
"""


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One build cache for the whole session, shared by xdist workers."""
    return tmp_path_factory.getbasetemp().parent / "xarch-build-cache"


@pytest.fixture(scope="module")
def lse_program(shared_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu")
    require_tool("qemu-aarch64", "qemu-user")
    source = tmp_path_factory.mktemp("lse") / "lse.c"
    source.write_text(LSE)
    program = build(resolve_target("aarch64"), [source], cflags=["-O1", "-march=armv8.2-a",
                                                  "-mno-outline-atomics"], cache_dir=shared_cache)
    disassembly = run_tool(["aarch64-linux-gnu-objdump", "-d", str(program)]).stdout
    assert "ldaddal" in disassembly  # the test means something only if LSE is really used
    return program


@pytest.mark.parametrize("profile", ["rpi3", "rpi4"])
def test_lse_atomics_die_with_sigill_on_armv8_0_profiles(lse_program: Path, profile: str) -> None:
    result = run(profile, [str(lse_program)])
    assert result.signal_name == "SIGILL", result.explain()
    assert result.fidelity == Fidelity.EMULATED
    assert result.cpu == resolve_target(profile).cpu


@pytest.mark.parametrize("profile", ["rpi5", "graviton2", "a64fx"])
def test_lse_atomics_pass_on_armv8_2_profiles(lse_program: Path, profile: str) -> None:
    result = run(profile, [str(lse_program)])
    assert result.ok and result.stdout == "0 5\n", result.explain()


def test_lse_atomics_pass_on_cpu_max(lse_program: Path) -> None:
    result = run("aarch64", [str(lse_program)], cpu="max")
    assert result.ok and result.stdout == "0 5\n", result.explain()
    assert result.cpu == "max"


@pytest.fixture(scope="module")
def avx2_program(shared_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("x86_64-linux-gnu-gcc", "gcc-x86-64-linux-gnu")
    require_tool("qemu-x86_64", "qemu-user")
    source = tmp_path_factory.mktemp("avx2") / "avx2.c"
    source.write_text(AVX2)
    return build(resolve_target("x86_64"), [source], cflags=["-O1", "-mavx2"],
                 cache_dir=shared_cache)


def test_avx2_dies_with_sigill_on_the_x86_64_baseline_profile(avx2_program: Path) -> None:
    result = run("x86_64-v1", [str(avx2_program)])
    assert result.signal_name == "SIGILL", result.explain()
    assert result.runner == "qemu" and result.cpu == "qemu64"
    assert result.fidelity == Fidelity.EMULATED  # a pinned CPU means emulation, even on x86-64


def _host_has_avx2() -> bool:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return any(line.startswith("flags") and " avx2" in line for line in cpuinfo)
    except OSError:
        return False


def test_avx2_passes_natively_on_x86_64(avx2_program: Path) -> None:
    if os.uname().machine != "x86_64" or not _host_has_avx2():
        pytest.skip("this host's CPU does not execute AVX2 natively")
    result = run("x86_64", [str(avx2_program)])
    assert result.ok and result.stdout == "6\n", result.explain()
    assert result.fidelity == Fidelity.NATIVE


def test_profiles_pin_their_cpu_and_keep_their_base_toolchain() -> None:
    expected = {"rpi3": "cortex-a53", "rpi4": "cortex-a72", "rpi5": "cortex-a76",
                "graviton2": "neoverse-n1", "graviton3": "neoverse-v1", "a64fx": "a64fx",
                "x86_64-v1": "qemu64"}
    for name, cpu in expected.items():
        profile = resolve_target(name)
        assert profile.cpu == cpu and profile.emulation_cpu == cpu
        base = resolve_target("x86_64" if name == "x86_64-v1" else "aarch64")
        assert (profile.triple, profile.machine, profile.packages) == (
            base.triple, base.machine, base.packages)
        assert runner_for(profile).kind == "qemu"
    assert resolve_target("rpi5").page_size == 16384
    assert resolve_target("a64fx").page_size == 65536
    assert resolve_target("pi4").name == "rpi4"


def _qemu_lacks(model: str) -> bool:
    return model not in qemu_cpu_models(shutil.which("qemu-aarch64") or "qemu-aarch64")


@pytest.mark.parametrize("cpu", ["neoverse-v1", "cortex-z99"])
def test_a_cpu_model_qemu_lacks_is_a_clear_setup_error(lse_program: Path, cpu: str) -> None:
    if not _qemu_lacks(cpu):
        pytest.skip(f"the installed QEMU has {cpu}")
    target = "graviton3" if cpu == "neoverse-v1" else dataclasses.replace(
        resolve_target("aarch64"), name="future-board", cpu=cpu)
    with pytest.raises(SetupError) as caught:
        run(target, [str(lse_program)])
    version = qemu_version(shutil.which("qemu-aarch64") or "")
    message = str(caught.value)
    assert f"needs CPU model '{cpu}', which qemu-aarch64 {version} does not have" in message
    assert "install a newer QEMU" in message


def test_xarch_targets_shows_compilers_and_cpu_models_qemu_lacks() -> None:
    require_tool("qemu-aarch64", "qemu-user")
    outcome = execute([sys.executable, "-m", "pytest_xarch.cli", "targets", "--json"],
                      timeout=120)
    rows = {row["name"]: row for row in json.loads(outcome.stdout)}
    assert rows["graviton3"]["cpu_known_to_qemu"] is (not _qemu_lacks("neoverse-v1"))
    assert rows["rpi4"]["cpu_known_to_qemu"] is True and rows["rpi4"]["runner"] == "qemu"
    assert rows["x86_64-v1"]["runner"] == "qemu"
    assert rows["rpi4"]["compilers"]["c"]["kind"] in {"gcc", "clang", "zig"}
    text = execute([sys.executable, "-m", "pytest_xarch.cli", "targets"], timeout=120)
    line = next(x for x in text.stdout.decode().splitlines() if x.startswith("graviton3 "))
    assert ("neoverse-v1 (NOT IN QEMU" in line) is _qemu_lacks("neoverse-v1")
