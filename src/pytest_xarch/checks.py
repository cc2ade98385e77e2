"""Static verification: ELF facts x target x sysroot -> findings with stable codes.

Nothing is executed. Each finding says what is wrong, what the target expects
and the likely fix, and carries the facts behind it. The codes are a stable
interface (DESIGN.md section 4); keep them exactly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from .elf import (
    ARM_CPU_ARCH_NAMES,
    MACHINE_NAMES,
    ElfError,
    ElfFacts,
    VersionNeed,
    read_facts,
    version_key,
)
from .errors import SetupError
from .sysroot import (
    Resolution,
    find_sysroot,
    resolve_in_sysroot,
    resolve_libraries,
    sysroot_glibc_version,
    sysroot_search_list,
)
from .targets import (
    Target,
    builtin_registry,
    host_target,
    libc_counterpart,
    uses_musl,
)

ERROR, WARNING, INFO = "error", "warning", "info"

# The stable finding codes, in the order checks run.
CODES = (
    "not-elf",
    "corrupt-elf",
    "wrong-machine",
    "wrong-class",
    "wrong-endian",
    "float-abi",
    "libc-mismatch",
    "missing-loader",
    "missing-library",
    "glibc-too-new",
    "page-align",
    "isa-level",
)

_GLIBC_VERSION = re.compile(r"GLIBC_\d+(\.\d+)+")
_ARM_M_PROFILE = {11, 12, 13, 16, 17, 21}  # Tag_CPU_arch values not comparable with A-profile
_SHOWN_SYMBOLS = 6


@dataclass
class Finding:
    """One result of static verification."""

    code: str
    severity: str  # "error", "warning" or "info"
    message: str
    path: str
    facts: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return format_finding(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"path": self.path, "code": self.code, "severity": self.severity,
                "message": self.message, "facts": self.facts}


def format_finding(finding: Finding) -> str:
    """One line: ``PATH: CODE: message``."""
    return f"{finding.path}: {finding.code}: {finding.message}"


def errors(findings: Iterable[Finding]) -> list[Finding]:
    """The error-severity findings (those that make a run fail)."""
    return [f for f in findings if f.severity == ERROR]


def assert_no_errors(findings: Sequence[Finding]) -> None:
    """Raise AssertionError listing every error finding, one line each."""
    bad = errors(findings)
    if bad:
        raise AssertionError("static check failed:\n" + "\n".join(map(format_finding, bad)))


def check_file(
    path: Union[str, os.PathLike[str]],
    target: Target,
    *,
    sysroot: Union[str, os.PathLike[str], None] = None,
    glibc: Optional[str] = None,
    page_size: Optional[int] = None,
    extra_library_dirs: Sequence[str] = (),
) -> list[Finding]:
    """Every reason `path` would fail on `target` that can be seen without running it.

    `sysroot` defaults to the target's (configured or found); `glibc` (the
    floor, "X.Y") defaults to the target's setting, else the sysroot's own
    glibc; `page_size` to the target's. `extra_library_dirs` are searched like
    LD_LIBRARY_PATH. Raises SetupError only when `path` cannot be opened or the
    given sysroot is not a directory; problems of the file itself are findings.
    """
    name = os.fspath(path)
    try:
        facts = read_facts(path)
    except ElfError as error:
        return [Finding(error.code, ERROR, _content_message(error), name)]
    if sysroot is not None and not os.path.isdir(sysroot):
        raise SetupError(f"sysroot {os.fspath(sysroot)} is not a directory")
    root = Path(sysroot) if sysroot is not None else find_sysroot(target)
    return _Checker(name, facts, target, root, glibc, page_size, extra_library_dirs).run()


def check_before_run(
    program: str,
    target: Target,
    *,
    sysroot: Union[str, os.PathLike[str], None] = None,
    env: Optional[Mapping[str, str]] = None,
) -> None:
    """Raise SetupError naming every error finding of `program` for `target`, else return."""
    library_path = (env or {}).get("LD_LIBRARY_PATH", "")
    findings = check_file(program, target, sysroot=sysroot,
                          extra_library_dirs=[p for p in library_path.split(":") if p])
    bad = errors(findings)
    if bad:
        lines = "\n".join(format_finding(f) for f in bad)
        raise SetupError(
            f"{program} cannot run on target '{target.name}' (static check; "
            f"set check_before_run = false to skip it):\n{lines}"
        )


def _content_message(error: ElfError) -> str:
    if error.code == "not-elf":
        return (f"{error.detail}: xarch checks ELF programs and libraries; "
                "was a script or a build log given instead of the binary?")
    return f"{error.detail}; rebuild it or copy it again (was the copy interrupted?)"


def _machine_title(machine: int, bits: int) -> str:
    name = MACHINE_NAMES.get(machine, f"e_machine {machine}")
    return f"{name} {bits}-bit" if machine in (243, 8, 2) else name


def _arm_arch(value: int) -> str:
    return ARM_CPU_ARCH_NAMES.get(value, f"Tag_CPU_arch {value}")


class _Checker:
    """Runs the checks of one file against one target, collecting findings."""

    def __init__(
        self,
        path: str,
        facts: ElfFacts,
        target: Target,
        sysroot: Optional[Path],
        glibc: Optional[str],
        page_size: Optional[int],
        extra_dirs: Sequence[str],
    ) -> None:
        self.path = path
        self.facts = facts
        self.target = target
        self.sysroot = sysroot
        self.glibc = glibc
        self.page_size = page_size or target.page_size
        self.extra_dirs = extra_dirs
        self.findings: list[Finding] = []

    def add(self, code: str, message: str, severity: str = ERROR, **facts: Any) -> None:
        self.findings.append(Finding(code, severity, message, self.path, facts))

    def run(self) -> list[Finding]:
        if not self.identity():
            return self.findings  # code for another machine: nothing else is meaningful
        self.float_abi()
        self.isa_level()
        self.page_align()
        resolution = None
        dynamic = self.facts.linkage == "dynamic" or bool(self.facts.needed)
        if dynamic and self.libc() and self.loader():
            resolution = self.libraries()
        self.glibc_floor(resolution)
        return self.findings

    # -- identity ---------------------------------------------------------

    def identity(self) -> bool:
        facts, target = self.facts, self.target
        if facts.machine != target.machine:
            self.add(
                "wrong-machine",
                f"{_machine_title(facts.machine, facts.bits)} code, expected "
                f"{_machine_title(target.machine, target.bits)} for target '{target.name}': "
                f"{self._machine_hint()}",
                found=facts.machine, found_name=facts.machine_name, expected=target.machine,
            )
        if facts.bits != target.bits:
            self._identity_mismatch(
                "wrong-class",
                f"{facts.bits}-bit ELF, target '{target.name}' runs {target.bits}-bit programs",
                f"build with {target.triple}-gcc without -m{facts.bits}, -mx32 or -mabi "
                "options that change the word size",
                found=facts.bits, expected=target.bits,
            )
        if facts.endian != target.endian:
            self._identity_mismatch(
                "wrong-endian",
                f"{facts.endian}-endian code, target '{target.name}' is {target.endian}-endian",
                f"rebuild with the {target.triple} toolchain and no -m{facts.endian}-endian "
                "option",
                found=facts.endian, expected=target.endian,
            )
        return not self.findings

    def _identity_mismatch(self, code: str, message: str, fix: str, **facts: Any) -> None:
        """An identity finding; its fix is named only when no earlier one named the real fix."""
        self.add(code, f"{message}: {fix}" if not self.findings else message, **facts)

    def _machine_hint(self) -> str:
        facts, target = self.facts, self.target
        compiler = f"{target.triple}-gcc"
        try:
            host = host_target()
        except Exception:
            host = None
        if host is not None and (host.machine, host.bits) == (facts.machine, facts.bits):
            return f"was the host compiler used instead of the cross compiler ({compiler})?"
        for other in builtin_registry():
            if (other.machine, other.bits, other.endian) == (
                facts.machine, facts.bits, facts.endian
            ) and other.libc == "glibc":
                return (f"it looks built for target '{other.name}'; build it with {compiler} "
                        f"or check it with --target {other.name}")
        return f"build it with the {target.triple} cross toolchain ({compiler})"

    # -- ABI and ISA ------------------------------------------------------

    def float_abi(self) -> None:
        facts, target = self.facts, self.target
        if not target.float_abi or not facts.float_abi or facts.float_abi == target.float_abi:
            return
        if facts.machine == 40:
            sibling = "armel" if facts.float_abi == "soft" else "armv7"
            flag = "-mfloat-abi=hard" if target.float_abi == "hard" else "-mfloat-abi=soft"
            self.add(
                "float-abi",
                f"{facts.float_abi}-float ABI, target '{target.name}' uses the "
                f"{target.float_abi}-float ABI: build with {target.triple}-gcc (or {flag}); "
                f"{facts.float_abi}-float binaries are for target '{sibling}'",
                found=facts.float_abi, expected=target.float_abi,
            )
            return
        abi = {"soft": "lp64", "single": "lp64f", "double": "lp64d", "quad": "lp64q"}
        self.add(
            "float-abi",
            f"float ABI '{facts.float_abi}' ({abi.get(facts.float_abi, '?')}), target "
            f"'{target.name}' uses '{target.float_abi}': build with "
            f"-mabi={abi.get(target.float_abi, target.float_abi)} (the target's toolchain "
            "default)",
            found=facts.float_abi, expected=target.float_abi,
        )

    def isa_level(self) -> None:
        facts, target = self.facts, self.target
        found, wanted = facts.arm_cpu_arch, target.arm_cpu_arch
        if facts.machine != 40 or found is None or wanted is None:
            return
        if found in _ARM_M_PROFILE or found <= wanted:
            return
        self.add(
            "isa-level",
            f"built for {_arm_arch(found)} (Tag_CPU_arch {found}), target '{target.name}' is "
            f"{_arm_arch(wanted)}: its CPU cannot execute these instructions; build with "
            f"-march matching {_arm_arch(wanted)} (the {target.triple}-gcc default) or choose "
            "a target with a newer CPU",
            found=found, found_name=_arm_arch(found), expected=wanted,
            expected_name=_arm_arch(wanted),
        )

    def page_align(self) -> None:
        facts = self.facts
        if facts.kind not in ("executable", "pie", "shared-object") or not facts.load_aligns:
            return
        smallest = min(facts.load_aligns)
        if smallest >= self.page_size:
            return
        self.add(
            "page-align",
            f"PT_LOAD segments aligned to {_bytes(smallest)}, target '{self.target.name}' has "
            f"{_bytes(self.page_size)} pages: the kernel cannot map it (QEMU uses the host's "
            f"4 KiB pages and cannot show this); relink with "
            f"-Wl,-z,max-page-size={self.page_size}",
            p_align=smallest, page_size=self.page_size,
        )

    # -- loader and libraries ----------------------------------------------

    def libc(self) -> bool:
        """libc-mismatch between the program's loader and the target's libc; True when fine."""
        interp, target = self.facts.interp, self.target
        if not interp:
            return True
        musl = uses_musl(interp)
        if musl == (target.libc == "musl"):
            return True
        built = "musl" if musl else "glibc"
        counterpart = libc_counterpart(target, built)
        also = f", or use target '{counterpart}'" if counterpart else ""
        self.add(
            "libc-mismatch",
            f"built for {built} (loader {interp}), target '{target.name}' uses {target.libc} "
            f"(loader {target.loader}): build with the {target.libc} toolchain, or link "
            f"statically (-static) so no loader is needed{also}",
            found=built, expected=target.libc, interp=interp,
        )
        return False

    def loader(self) -> bool:
        """missing-loader; True when the sysroot is there and holds the loader."""
        interp, target = self.facts.interp, self.target
        if self.sysroot is None:
            looked = ", ".join(sysroot_search_list(target))
            packages = [p for p in target.packages if p.startswith("libc6-dev")]
            install = f"install {' '.join(packages)} or " if packages else ""
            self.add(
                "missing-loader",
                f"dynamically linked{f' (loader {interp})' if interp else ''} but no sysroot for "
                f"target '{target.name}' was found (looked in {looked}), so its loader and "
                f"libraries cannot be verified: {install}pass --sysroot (or set `sysroot`)",
                severity=WARNING, interp=interp,
            )
            return False
        if not interp:
            return True
        if resolve_in_sysroot(self.sysroot, interp) is not None:
            return True
        if interp != target.loader:
            why = (f"target '{target.name}' uses {target.loader}; the program was linked with "
                   f"another loader: relink with {target.triple}-gcc or link statically")
        else:
            why = (f"point --sysroot at a root filesystem of target '{target.name}', or link "
                   "statically")
        self.add(
            "missing-loader",
            f"dynamically linked, but the sysroot {self.sysroot} does not contain {interp}, "
            f"its loader: {why}",
            interp=interp, sysroot=str(self.sysroot), expected=target.loader,
        )
        return False

    def libraries(self) -> Optional[Resolution]:
        """missing-library: DT_NEEDED (transitively) and non-glibc version needs."""
        assert self.sysroot is not None
        resolution = resolve_libraries(self.path, self.facts, self.sysroot, self.target,
                                       extra_dirs=self.extra_dirs)
        for missing in resolution.missing:
            via = "" if missing.needed_by == os.path.basename(self.path) else (
                f" (needed by {missing.needed_by})")
            self.add(
                "missing-library",
                f"needs {missing.name}{via}, found neither in the sysroot {self.sysroot} nor "
                f"on its RPATH/RUNPATH: install the target's package that provides it into "
                f"the sysroot, ship it next to the program (-Wl,-rpath,'$ORIGIN'), or link "
                "it statically",
                library=missing.name, needed_by=missing.needed_by, searched=missing.searched,
            )
        for owner, needs in self._own_objects(resolution):
            for library, group in _by_library(needs).items():
                self._versions_missing(owner, library, group, resolution)
        return resolution

    def _own_objects(
        self, resolution: Optional[Resolution]
    ) -> list[tuple[str, tuple[VersionNeed, ...]]]:
        """The program and the libraries it brings along (those outside the sysroot)."""
        owned = [(os.path.basename(self.path), self.facts.version_needs)]
        if resolution is not None and self.sysroot is not None:
            root = os.path.abspath(self.sysroot)
            for item in resolution.loaded:
                inside = os.path.commonpath([root, os.path.abspath(item.path)]) == root
                if not inside or item.path.parent == Path(self.path).parent:
                    owned.append((item.name, item.facts.version_needs))
        return owned

    def _versions_missing(
        self, owner: str, library: str, needs: list[VersionNeed], resolution: Resolution
    ) -> None:
        loaded = resolution.find(library)
        if loaded is None:
            return
        defined = set(loaded.facts.version_defs)
        absent = [n for n in needs if not n.weak and n.version not in defined
                  and not _GLIBC_VERSION.fullmatch(n.version) and n.version != "GLIBC_PRIVATE"]
        if not absent or not defined:
            return
        newest = max(absent, key=lambda n: version_key(n.version))
        provided = [v for v in loaded.facts.version_defs if v.split("_")[0] ==
                    newest.version.split("_")[0]]
        upto = max(provided, key=version_key) if provided else None
        symbols = _symbol_list(absent)
        self.add(
            "missing-library",
            f"{owner} needs {newest.version} from {library}{symbols}, but the sysroot's "
            f"{library} ({loaded.path}) provides only up to {upto or 'older versions'}: "
            f"build with the target system's compiler version, ship a newer {library} with "
            "the program, or link it statically (e.g. -static-libstdc++)",
            library=library, path=str(loaded.path), versions=[n.version for n in absent],
            provided=upto,
        )

    # -- glibc floor ----------------------------------------------------------

    def glibc_floor(self, resolution: Optional[Resolution]) -> None:
        if self.target.libc != "glibc":
            return
        needs = [
            n for _, group in self._own_objects(resolution) for n in group
            if not n.weak and _GLIBC_VERSION.fullmatch(n.version)
        ]
        if not needs:
            return
        floor, source = self._floor()
        if floor is None:
            return
        too_new = [n for n in needs if version_key(n.version) > version_key(floor)]
        if not too_new:
            return
        newest = max(too_new, key=lambda n: version_key(n.version))
        self.add(
            "glibc-too-new",
            f"requires {newest.version}{_symbol_list(too_new)} but target "
            f"'{self.target.name}' has glibc {floor} ({source}): build against the oldest "
            f"glibc you support (a glibc {floor} sysroot or build image), or link statically "
            "(-static, or against musl)",
            required=newest.version, floor=floor, floor_source=source,
            symbols={n.version: list(n.symbols) for n in too_new},
        )

    def _floor(self) -> tuple[Optional[str], str]:
        if self.glibc:
            return self.glibc, "the glibc floor given"
        if self.target.glibc:
            return self.target.glibc, "its glibc setting"
        if self.sysroot is not None:
            found = sysroot_glibc_version(self.sysroot, self.target)
            if found:
                return found, f"the glibc of the sysroot {self.sysroot}"
        return None, ""


def _by_library(needs: Iterable[VersionNeed]) -> dict[str, list[VersionNeed]]:
    grouped: dict[str, list[VersionNeed]] = {}
    for need in needs:
        grouped.setdefault(need.library, []).append(need)
    return grouped


def _symbol_list(needs: Sequence[VersionNeed]) -> str:
    """` (symbols: a@V, b@V and 3 more)`, newest versions first; '' when none are known."""
    ordered = sorted(needs, key=lambda n: version_key(n.version), reverse=True)
    names = [f"{symbol}@{n.version}" for n in ordered for symbol in n.symbols]
    if not names:
        return ""
    shown = ", ".join(names[:_SHOWN_SYMBOLS])
    more = f" and {len(names) - _SHOWN_SYMBOLS} more" if len(names) > _SHOWN_SYMBOLS else ""
    return f" (symbols: {shown}{more})"


def _bytes(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} bytes"
