"""Captured output is bounded: a guest writing a gigabyte keeps memory flat, and says so."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pytest_xarch import run
from tests.support.build import CrossBuilder
from tests.support.tools import require_tool

pytestmark = pytest.mark.integration

# flood MIB [stderr]: writes MIB mebibytes of 'x' (the first line "head", the last "tail").
FLOOD = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    long mib = atol(argv[1]);
    int fd = argc > 2 ? 2 : 1;
    static char block[1 << 20];
    memset(block, 'x', sizeof block);
    write(fd, "head\n", 5);
    for (long i = 0; i < mib; i++) {
        for (size_t done = 0; done < sizeof block;) {
            ssize_t n = write(fd, block + done, sizeof block - done);
            if (n <= 0) return 3;
            done += (size_t)n;
        }
    }
    write(fd, "\ntail\n", 6);
    return 0;
}
"""

MEASURE = """
import json, resource, sys
from pytest_xarch import run
result = run("aarch64", sys.argv[1:], timeout=600, output_limit=8 << 20)
print(json.dumps({
    "returncode": result.returncode, "kept": len(result.stdout) + len(result.stderr),
    "dropped": result.stdout_dropped + result.stderr_dropped,
    "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "head": result.stdout[:5] + result.stderr[:5], "tail": (result.stdout + result.stderr)[-5:],
    "note": result.truncation,
}))
"""


@pytest.fixture(scope="module")
def flood(cross_build: CrossBuilder) -> str:
    require_tool("qemu-aarch64", "qemu-user")
    return str(cross_build.build("aarch64", FLOOD, "-static", name="flood"))


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_a_gigabyte_of_output_keeps_memory_flat(flood: str, stream: str) -> None:
    args = [flood, "1024"] + (["stderr"] if stream == "stderr" else [])
    completed = subprocess.run([sys.executable, "-c", MEASURE, *args], capture_output=True,
                               text=True, timeout=600, check=True)
    facts = json.loads(completed.stdout)
    assert facts["returncode"] == 0
    assert facts["kept"] < 9 << 20  # the 8 MiB limit, plus the note
    assert facts["dropped"] == (1024 << 20) + 11 - (8 << 20)
    assert facts["peak_kib"] < 200 * 1024, facts  # a gigabyte passed through, not kept
    assert (facts["head"], facts["tail"]) == ("head\n", "tail\n")
    assert f"{stream}: " in facts["note"] and "dropped from the middle" in facts["note"]


def test_truncation_is_marked_in_the_output_and_in_explain(flood: str) -> None:
    result = run("aarch64", [flood, "3"], output_limit=1 << 20)
    assert result.stdout_dropped == (3 << 20) + 11 - (1 << 20)
    assert f"[xarch: {result.stdout_dropped} bytes of output dropped here" in result.stdout
    assert "stdout: 2.0 MiB dropped from the middle" in result.explain()
