"""The reader agrees with binutils' readelf on real libraries from the cross sysroots."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_xarch.elf import read_facts
from pytest_xarch.process import run_tool
from tests.support.tools import missing, require_tool

LIBRARIES = [
    "/usr/aarch64-linux-gnu/lib/libc.so.6",
    "/usr/aarch64-linux-gnu/lib/libstdc++.so.6",
    "/usr/arm-linux-gnueabihf/lib/libc.so.6",
    "/usr/arm-linux-gnueabihf/lib/libstdc++.so.6",
    "/usr/arm-linux-gnueabi/lib/libm.so.6",
    "/usr/s390x-linux-gnu/lib/libc.so.6",  # big-endian
    "/usr/riscv64-linux-gnu/lib/libstdc++.so.6",
    "/usr/i686-linux-gnu/lib/libc.so.6",
    "/usr/powerpc64le-linux-gnu/lib/libstdc++.so.6",
]
READELF_MACHINES = {
    "AArch64": 183, "ARM": 40, "IBM S/390": 22, "RISC-V": 243, "Intel 80386": 3,
    "PowerPC64": 21, "Advanced Micro Devices X86-64": 62,
}
ARM_ARCHES = {"v4": 1, "v4T": 2, "v5T": 3, "v5TE": 4, "v5TEJ": 5, "v6": 6, "v6KZ": 7,
              "v6T2": 8, "v6K": 9, "v7": 10, "v8": 14}


def readelf(*args: str) -> str:
    tool = require_tool("readelf", "binutils")
    completed = run_tool([tool, "-W", *args], timeout=60)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def parse(path: str) -> dict[str, object]:
    """The facts readelf -h -l -d -V --dyn-syms (and -A) shows, in ElfFacts' terms."""
    text = readelf("-h", "-l", "-d", "-V", path)
    header = dict(re.findall(r"^\s+([A-Za-z/ ]+):\s+(.*?)\s*$", text.split("\n\n")[0], re.M))
    needs: dict[int, tuple[str, str, bool]] = {}
    defs, library = [], ""
    for line in text.splitlines():
        file_match = re.search(r"File: (\S+)\s+Cnt:", line)
        if file_match:
            library = file_match.group(1)
        need = re.search(r"Name: (\S+)\s+Flags: (\S+)\s+Version: (\d+)", line)
        if need:
            needs[int(need.group(3))] = (library, need.group(1), "WEAK" in need.group(2))
        definition = re.search(r"Flags: (\S+)\s+Index: \d+\s+Cnt: \d+\s+Name: (\S+)", line)
        if definition and definition.group(1) != "BASE":
            defs.append(definition.group(2))
    users: dict[int, set[str]] = {}
    for line in readelf("--dyn-syms", path).splitlines():
        symbol = re.search(r"\sUND (\S+?)@(\S+) \((\d+)\)", line)
        if symbol:
            users.setdefault(int(symbol.group(3)), set()).add(symbol.group(1))
    attributes = readelf("-A", path)
    arch = re.search(r"Tag_CPU_arch: (\S+)", attributes)
    interp = re.search(r"\[Requesting program interpreter: (.*)\]", text)
    return {
        "bits": 64 if header["Class"] == "ELF64" else 32,
        "endian": "little" if "little endian" in header["Data"] else "big",
        "machine": READELF_MACHINES[header["Machine"]],
        "flags": int(header["Flags"].split(",")[0], 16),
        "entry": int(header["Entry point address"], 16),
        "interp": interp.group(1) if interp else None,
        "load_aligns": tuple(int(a, 16) for a in re.findall(r"^\s+LOAD\s.*\s(0x[0-9a-f]+)$",
                                                             text, re.M)),
        "needed": tuple(re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", text)),
        "soname": (re.findall(r"\(SONAME\)\s+Library soname: \[(.*)\]", text) or [None])[0],
        "version_defs": tuple(defs),
        "version_needs": sorted(
            (lib, version, weak, tuple(sorted(users.get(index, ()))))
            for index, (lib, version, weak) in needs.items()
        ),
        "arm_cpu_arch": ARM_ARCHES.get(arch.group(1)) if arch else None,
    }


@pytest.mark.parametrize("path", LIBRARIES, ids=lambda p: "/".join(Path(p).parts[2:]))
def test_facts_agree_with_readelf(path: str) -> None:
    if not Path(path).is_file():
        missing(f"{path} is not installed (the target's libc6-dev-*-cross package)")
    expected = parse(path)
    facts = read_facts(path)
    found = {
        "bits": facts.bits, "endian": facts.endian, "machine": facts.machine,
        "flags": facts.flags, "entry": facts.entry, "interp": facts.interp,
        "load_aligns": facts.load_aligns, "needed": facts.needed, "soname": facts.soname,
        "version_defs": facts.version_defs,
        "version_needs": sorted(
            (n.library, n.version, n.weak, n.symbols) for n in facts.version_needs
        ),
        "arm_cpu_arch": facts.arm_cpu_arch,
    }
    assert found == expected
    assert facts.version_needs  # these libraries all have versioned requirements
