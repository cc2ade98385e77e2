"""A cross-compiled C library tested for every selected target.

Run: pytest examples/demo -v --xarch=aarch64,armv7,riscv64,x86_64
Each test builds the tool for the current target (cached), runs it through the
target's runner and is tagged with the fidelity the result was obtained at.
"""

import pytest

SOURCES = ["src/tool.c", "src/bytes.c"]


@pytest.fixture
def tool(xarch_build):
    """The demo tool, built for the current target."""
    return xarch_build(SOURCES, cflags=["-O2", "-pthread"], ldflags=["-pthread"])


def test_crc32_is_the_same_everywhere(tool, xarch_run):
    result = xarch_run(tool, "crc", stdin="hello world")
    assert result.returncode == 0, result.explain()
    assert result.stdout.strip() == "0d4a1185"


def test_byte_order_is_the_targets(tool, xarch_run, xarch_target):
    assert xarch_run(tool, "order").stdout.strip() == xarch_target.endian


def test_big_endian_loads_are_portable(tool, xarch_run):
    assert xarch_run(tool, "be32").stdout.strip() == str(0x01020304)


def test_threads_and_atomics(tool, xarch_run):
    result = xarch_run(tool, "threads", 8)
    assert result.stdout.strip() == "80000", result.explain()


def test_crash_is_reported_as_a_signal(tool, xarch_run):
    result = xarch_run(tool, "crash")
    assert result.signal_name == "SIGSEGV"


def test_binary_suits_the_target(tool, xarch_check):
    xarch_check.assert_clean(tool)


@pytest.mark.xarch("aarch64")
def test_lse_atomics_need_armv8_1(xarch_build, xarch_run):
    """A -march leak: fine under QEMU's generous `max` CPU, SIGILL on the Cortex-A53 baseline."""
    exe = xarch_build(["src/lse.c"], cflags=["-march=armv8.2-a", "-mno-outline-atomics"])
    result = xarch_run(exe)
    assert result.signal_name == "SIGILL", result.explain()


@pytest.mark.hardware_only(reason="throughput means nothing under emulation")
def test_crc_throughput(tool, xarch_run):
    result = xarch_run(tool, "throughput")
    assert result.returncode == 0
    assert float(result.stdout.split()[0]) > 20.0
