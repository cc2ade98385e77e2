"""The kernel's binfmt_misc interface: read, register and remove interpreter entries.

An entry makes the kernel run `interpreter PROG ARGS` for any file whose first
bytes match `magic` under `mask`. Handlers are matched to targets by what they
would catch (a canonical ELF header of the target), never by their name or
interpreter path, since Debian, tonistiigi/binfmt and others name them
differently. Entries this package registers are named ``xarch-<qemu arch>``;
`remove` never touches any other.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .elf import read_interp
from .errors import SetupError
from .process import run_tool
from .qemu_facts import qemu_major_minor
from .targets import (
    Target,
    binfmt_magic,
    binfmt_mask,
    builtin_registry,
    elf_headers,
    kernel_runs_natively,
)

BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")
PREFIX = "xarch-"
_NOT_ENTRIES = {"register", "status"}


@dataclass(frozen=True)
class Handler:
    """One registered binfmt_misc entry, as /proc/sys/fs/binfmt_misc/<name> shows it."""

    name: str
    enabled: bool
    interpreter: str
    flags: str
    offset: int = 0
    magic: Optional[bytes] = None  # None for extension entries (`E`)
    mask: Optional[bytes] = None  # None means all ones
    extension: Optional[str] = None

    @property
    def ours(self) -> bool:
        """Registered by pytest-xarch (named with our prefix)."""
        return self.name.startswith(PREFIX)

    def matches(self, header: bytes) -> bool:
        """Whether the kernel would hand a file starting with `header` to this entry."""
        if self.magic is None:
            return False
        window = header[self.offset:self.offset + len(self.magic)]
        if len(window) < len(self.magic):
            return False
        mask = self.mask or b"\xff" * len(self.magic)
        return all((h & k) == (m & k) for h, m, k in zip(window, self.magic, mask))

    def serves(self, target: Target) -> bool:
        """Whether this entry catches the target's executables (ET_EXEC and PIE)."""
        return any(self.matches(header) for header in elf_headers(target))

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form (magic and mask in hex)."""
        return {
            "name": self.name, "enabled": self.enabled, "interpreter": self.interpreter,
            "flags": self.flags, "offset": self.offset, "ours": self.ours,
            "magic": self.magic.hex() if self.magic is not None else None,
            "mask": self.mask.hex() if self.mask is not None else None,
            "extension": self.extension,
        }


def parse_entry(name: str, text: str) -> Handler:
    """A handler from the text of its /proc file."""
    fields: dict[str, str] = {}
    enabled = False
    for line in text.splitlines():
        if line.strip() in ("enabled", "disabled"):
            enabled = line.strip() == "enabled"
            continue
        key, _, value = line.partition(" ")
        fields[key.rstrip(":")] = value.strip()
    magic = bytes.fromhex(fields["magic"]) if "magic" in fields else None
    mask = bytes.fromhex(fields["mask"]) if "mask" in fields else None
    return Handler(
        name=name,
        enabled=enabled,
        interpreter=fields.get("interpreter", ""),
        flags=fields.get("flags", ""),
        offset=int(fields.get("offset", "0") or 0),
        magic=magic,
        mask=mask,
        extension=fields.get("extension"),
    )


def _dir(root: Optional[Path]) -> Path:
    return root if root is not None else BINFMT_DIR


def mounted(root: Optional[Path] = None) -> bool:
    """Whether binfmt_misc is mounted at `root` (touching it triggers a systemd automount)."""
    return (_dir(root) / "register").exists()


def enabled(root: Optional[Path] = None) -> bool:
    """Whether binfmt_misc as a whole is enabled (its `status` file)."""
    try:
        return (_dir(root) / "status").read_text().strip() == "enabled"
    except OSError:
        return False


def handlers(root: Optional[Path] = None) -> list[Handler]:
    """Every registered entry, sorted by name ([] when binfmt_misc is not mounted)."""
    if not mounted(_dir(root)):
        return []
    found = []
    for entry in sorted(os.listdir(_dir(root))):
        if entry in _NOT_ENTRIES:
            continue
        try:
            found.append(parse_entry(entry, (_dir(root) / entry).read_text()))
        except (OSError, ValueError, KeyError):
            continue  # removed while we were reading, or not an entry
    return found


def handlers_for(target: Target, root: Optional[Path] = None) -> list[Handler]:
    """Entries that catch the target's executables, ours first."""
    return sorted(
        (h for h in handlers(root) if h.serves(target)), key=lambda h: (not h.ours, h.name)
    )


def active_handler(target: Target, root: Optional[Path] = None) -> Optional[Handler]:
    """The enabled handler the target's programs run under (ours when present), or None."""
    if not enabled(_dir(root)):
        return None
    return next((h for h in handlers_for(target, root) if h.enabled), None)


def entry_name(target: Target) -> str:
    """Our entry's name for the target: ``xarch-aarch64`` (one per QEMU architecture)."""
    return f"{PREFIX}{target.qemu}"


def _escape(data: bytes) -> str:
    return "".join(f"\\x{byte:02x}" for byte in data)


def registration(
    name: str, magic: bytes, mask: bytes, interpreter: str, flags: str, offset: int = 0
) -> str:
    """The line written to `register`: ``:name:M:offset:magic:mask:interpreter:flags``."""
    if not re.fullmatch(r"[A-Za-z0-9_.+-]+", name):
        raise SetupError(f"binfmt_misc entry name {name!r}: use letters, digits and . _ + -")
    if ":" in interpreter or "\n" in interpreter:
        raise SetupError(f"binfmt_misc interpreter {interpreter!r} must not contain ':'")
    if len(magic) != len(mask):
        raise SetupError("binfmt_misc magic and mask must have the same length")
    if not re.fullmatch(r"[POCF]*", flags):
        raise SetupError(f"binfmt_misc flags {flags!r}: only P, O, C and F exist")
    return f":{name}:M:{offset}:{_escape(magic)}:{_escape(mask)}:{interpreter}:{flags}"


def _permission_message(action: str) -> str:
    return (
        f"{action} needs root (CAP_SYS_ADMIN in the initial namespace): run it with sudo; "
        "in a container, register handlers on the host or run the container --privileged"
    )


def mount(root: Optional[Path] = None) -> bool:
    """Mount binfmt_misc at `root` unless it is mounted; True when this call mounted it.

    Someone else (another process, systemd's automount) mounting it meanwhile is
    success: the kernel then refuses ours with "already mounted", and what
    matters is that it is mounted now.
    """
    where = _dir(root)
    if mounted(where):
        return False
    if os.geteuid() != 0:
        raise SetupError(f"binfmt_misc is not mounted at {where}, and mounting it "
                         + _permission_message("mounting"))
    mount_tool = shutil.which("mount") or "/bin/mount"
    completed = run_tool([mount_tool, "-t", "binfmt_misc", "binfmt_misc", str(where)], timeout=30)
    if mounted(where):
        return completed.returncode == 0
    raise SetupError(
        f"cannot mount binfmt_misc at {where}: {completed.stderr.strip() or 'mount failed'}; "
        "load the kernel module (modprobe binfmt_misc) or mount it by hand"
    )


def unmount(root: Optional[Path] = None) -> None:
    """Unmount binfmt_misc at `root` (entries stay registered in the kernel)."""
    where = _dir(root)
    if not mounted(where):
        return
    umount_tool = shutil.which("umount") or "/bin/umount"
    completed = run_tool([umount_tool, str(where)], timeout=30)
    if completed.returncode != 0 and mounted(where):
        raise SetupError(f"cannot unmount binfmt_misc at {where}: {completed.stderr.strip()}")


def register(
    name: str, magic: bytes, mask: bytes, interpreter: str, flags: str,
    root: Optional[Path] = None,
) -> Handler:
    """Register one entry; refuses anything that would catch this host's own programs."""
    candidate = Handler(name=name, enabled=True, interpreter=interpreter, flags=flags,
                        magic=magic, mask=mask)
    for native in (t for t in builtin_registry() if kernel_runs_natively(t)):
        if candidate.serves(native):
            raise SetupError(
                f"refusing to register binfmt_misc entry {name}: its magic would also catch "
                f"this host's own {native.title} programs and break every command on it"
            )
    line = registration(name, magic, mask, interpreter, flags)
    try:
        with open(_dir(root) / "register", "w") as stream:
            stream.write(line)
    except PermissionError:
        raise SetupError(_permission_message(f"registering binfmt_misc entry {name}")) from None
    except OSError as error:
        raise SetupError(
            f"the kernel refused binfmt_misc entry {name} ({error.strerror}): {line}"
        ) from None
    return parse_entry(name, (_dir(root) / name).read_text())


def unregister(name: str, root: Optional[Path] = None) -> None:
    """Remove the entry `name` (writes -1 to it)."""
    try:
        with open(_dir(root) / name, "w") as stream:
            stream.write("-1")
    except FileNotFoundError:
        return
    except PermissionError:
        raise SetupError(_permission_message(f"removing binfmt_misc entry {name}")) from None


def _kernel_version() -> tuple[int, int]:
    match = re.match(r"(\d+)\.(\d+)", platform.release())
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def is_static(path: str) -> bool:
    """Whether the program at `path` is statically linked (no PT_INTERP)."""
    try:
        return read_interp(os.path.realpath(path)) is None
    except (SetupError, OSError):  # not an ELF we can read: treat as dynamic, the safe side
        return False


@dataclass(frozen=True)
class Interpreter:
    """The QEMU a handler should run, with the flags that are safe for it."""

    path: str
    flags: str
    why: str


def choose_interpreter(target: Target) -> Interpreter:
    """The best QEMU for a handler: static (flag F, works in chroots and containers) first.

    P (preserve argv[0]) is used with Debian's ``*-binfmt-P`` wrapper, which expects
    it on any kernel, or with a QEMU >= 6.0 on a kernel >= 5.12, which tell each other
    through AT_FLAGS; otherwise it is left out (argv[0] becomes the full path).
    """
    wrapper = f"/usr/libexec/qemu-binfmt/{target.qemu}-binfmt-P"
    if os.path.exists(wrapper) and is_static(wrapper):
        return Interpreter(wrapper, "PF", "Debian's static QEMU wrapper for the P flag")
    argv0_aware = _kernel_version() >= (5, 12)
    for name, static_wanted in ((f"qemu-{target.qemu}-static", True), (target.qemu_binary, False)):
        path = shutil.which(name)
        if path is None:
            continue
        static = is_static(path)
        preserve = "P" if argv0_aware and qemu_major_minor(path) >= (6, 0) else ""
        if static:
            return Interpreter(path, preserve + "F", "statically linked QEMU")
        if not static_wanted:
            return Interpreter(
                path, preserve,
                "dynamically linked QEMU: no F flag, so it is looked up at each exec "
                "(install qemu-user-static for chroots and containers)",
            )
    raise SetupError(
        f"no QEMU for target '{target.name}' to register: install qemu-user-static "
        f"(apt-get install qemu-user-static), which provides /usr/bin/qemu-{target.qemu}-static"
    )


@dataclass(frozen=True)
class InstallOutcome:
    """What `install` did for one target."""

    target: str
    action: str  # "registered", "replaced", "present", "skipped"
    handler: Optional[Handler]
    note: str = ""


def install(target: Target, *, force: bool = False, root: Optional[Path] = None) -> InstallOutcome:
    """Register our handler for `target` unless an enabled one already serves it.

    With `force`, ours is (re)registered even when another handler exists; the
    kernel prefers the most recently registered entry.
    """
    if kernel_runs_natively(target):
        return InstallOutcome(target.name, "skipped", None,
                              f"this host runs {target.title} programs natively")
    mount(root)
    existing = [h for h in handlers_for(target, root) if h.enabled]
    if existing and not force:
        return InstallOutcome(target.name, "present", existing[0],
                              "already handled; --force registers ours as well")
    interpreter = choose_interpreter(target)
    name = entry_name(target)
    replaced = (_dir(root) / name).exists()
    if replaced:
        unregister(name, root)
    handler = register(name, binfmt_magic(target), binfmt_mask(target), interpreter.path,
                       interpreter.flags, root)
    return InstallOutcome(target.name, "replaced" if replaced else "registered", handler,
                          interpreter.why)


def remove(targets: Optional[Iterable[Target]] = None, root: Optional[Path] = None) -> list[str]:
    """Remove our entries (those serving `targets`, or all of ours); returns their names."""
    if not mounted(_dir(root)):
        return []
    wanted: Optional[Sequence[Target]] = list(targets) if targets is not None else None
    removed = []
    for handler in handlers(root):
        if not handler.ours:
            continue
        if wanted is not None and not any(handler.serves(t) for t in wanted):
            continue
        unregister(handler.name, root)
        removed.append(handler.name)
    return removed
