"""The coherent root a target's dynamic programs run against: one glibc tree, never two.

The loader and libc.so.6 (and the rest of glibc) must come from the same glibc
build: a cross sysroot's loader with a Debian multiarch libc.so.6 of another
build hangs every threaded program at its first pthread_create. Under QEMU's
`-L` that mix happens by itself: the cross loader searches its built-in
`/lib/<triple>` before `/lib`, that path is not inside the cross sysroot, so QEMU
falls through to the host's, where multiarch put its own libc. So the root is
chosen here, once:

- ``multiarch``: the host has the target's loader through Debian multiarch
  (`dpkg --add-architecture arm64; apt-get install libc6:arm64`): glibc and every
  multiarch library come from `/`. Libraries only the cross sysroot has
  (libstdc++ when libstdc++6:arm64 is not installed) are offered through a
  private overlay at the multiarch path, so QEMU finds them there.
- ``sysroot``: a cross sysroot (`/usr/<triple>`), or the one configured. When
  the host also has a multiarch glibc of the target, a private overlay pins the
  loader's multiarch paths and `/etc/ld.so.cache` to the sysroot, so nothing of
  the host's glibc is seen.
- ``host``: the host's own root, for the host's own instruction set.

Overlays are directories of symlinks in the user cache (`roots/`), built once
per set of inputs and replaced atomically.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .diskcache import user_cache_dir
from .errors import SetupError
from .files import make_temp_dir
from .guestfs import GuestFS
from .sysroot import find_sysroot, require_explicit_sysroot, sysroot_has_loader
from .targets import Target, has_target_identity, host_executes, multiarch_names

# glibc's own libraries: they must come from the loader's tree.
GLIBC_LIBRARIES = frozenset({
    "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "libresolv.so.2",
    "libutil.so.1", "libanl.so.1", "libBrokenLocale.so.1", "libc_malloc_debug.so.0",
    "libmvec.so.1", "libthread_db.so.1", "libnsl.so.1", "libcrypt.so.1", "libmemusage.so",
    "libpcprofile.so", "libnss_files.so.2", "libnss_dns.so.2", "libnss_compat.so.2",
    "libnss_hesiod.so.2", "libnss_db.so.2",
})
_GLIBC_STEMS = frozenset(name.split(".so")[0] for name in GLIBC_LIBRARIES) | {"ld-linux"}
_RUNTIME_NAME = re.compile(r"lib[^/]+\.so\.\d[\w.]*")
_EMPTY_CACHE = b"glibc-ld.so.cache1.1" + b"\0" * 28  # a valid cache with no entries


@dataclass(frozen=True)
class LibraryRoot:
    """Where a target's dynamic programs find their loader and libraries."""

    kind: str  # "multiarch", "sysroot" or "host"
    tree: Path  # the root the glibc comes from: "/" or the sysroot
    prefix: Optional[Path]  # what QEMU gets as -L (None: no -L)
    note: str = ""  # how the root was made coherent, when it needed to be

    @property
    def fs(self) -> GuestFS:
        """The guest's view of the files through this root."""
        return GuestFS(self.prefix)

    def loader_file(self, interp: str) -> Optional[Path]:
        """The host file QEMU runs as the loader `interp`, or None when the root lacks it.

        A sysroot must hold its loader itself: QEMU would otherwise fall back to a
        host's multiarch one, and the sysroot named would not be the one used.
        """
        found = self.fs.locate(interp)
        if found is None or self.kind != "sysroot":
            return found
        places = [self.tree, *([self.prefix] if self.prefix else [])]
        inside = any(os.path.commonpath([str(p), str(found)]) == str(p) for p in places)
        return found if inside else None

    def describe(self) -> str:
        """`libraries from /usr/aarch64-linux-gnu (sysroot)`, for reports and listings."""
        return f"libraries from {self.tree} ({self.kind}{', ' + self.note if self.note else ''})"


HOST_ROOT = LibraryRoot("host", Path("/"), None)


def _multiarch_loader(target: Target) -> Optional[Path]:
    """The host's multiarch install of the target's glibc loader (libc6:<arch>), if any.

    The loader's path must exist on the host (Debian's libc6:arm64 links
    /lib/ld-linux-aarch64.so.1 into /lib/aarch64-linux-gnu), next to a libc.so.6
    of the target's machine.
    """
    if host_executes(target) or target.libc != "glibc" or not os.path.exists(target.loader):
        return None
    for name in multiarch_names(target):
        folder = Path("/lib") / name
        if (folder / Path(target.loader).name).is_file() and has_target_identity(
                folder / "libc.so.6", target):
            return folder / Path(target.loader).name
    return None


def _host_multiarch_libc(target: Target) -> Optional[Path]:
    for name in multiarch_names(target):
        for prefix in ("/lib", "/usr/lib"):
            libc = Path(prefix) / name / "libc.so.6"
            if libc.is_file():
                return libc
    return None


def choose_root(target: Target, override: Optional[str] = None) -> Optional[LibraryRoot]:
    """The coherent root of `target` here, or None when it has none (static programs only).

    `override` (or the target's `sysroot`) names a sysroot explicitly; `/` there
    means the host's root, multiarch or not. Chosen once per process (an overlay
    that has since disappeared is built again).
    """
    root = _chosen(target, override)
    if root is not None and root.prefix is not None and not root.prefix.is_dir():
        _chosen.cache_clear()
        root = _chosen(target, override)
    return root


@functools.lru_cache(maxsize=64)
def _chosen(target: Target, override: Optional[str]) -> Optional[LibraryRoot]:
    require_explicit_sysroot(target, override)
    explicit = override or target.sysroot
    if explicit:
        tree = Path(explicit)
        if os.path.realpath(tree) == "/":
            return HOST_ROOT if host_executes(target) else LibraryRoot("multiarch", Path("/"), None)
        return _sysroot_root(target, tree)
    if host_executes(target):
        return HOST_ROOT
    if _multiarch_loader(target) is not None:
        return _multiarch_root(target)
    found = find_sysroot(target)
    return _sysroot_root(target, found) if found is not None else None


def _sysroot_root(target: Target, tree: Path) -> LibraryRoot:
    """A sysroot, pinned against the host's multiarch glibc when the host has one."""
    host_libc = _host_multiarch_libc(target)
    if host_libc is not None and not has_target_identity(host_libc, target):
        host_libc = None
    inside = any((tree / prefix.lstrip("/") / name / "libc.so.6").exists()
                 for name in multiarch_names(target) for prefix in ("/lib", "/usr/lib"))
    if host_libc is None or inside or not sysroot_has_loader(tree, target):
        return LibraryRoot("sysroot", tree, tree)
    overlay = _overlay(target, "pin", tree, _pinning_links(target, tree))
    return LibraryRoot("sysroot", tree, overlay, "the host's multiarch glibc kept out")


def _multiarch_root(target: Target) -> LibraryRoot:
    """The host's multiarch tree, with what only the cross sysroot has added at its paths."""
    cross = find_sysroot(target)
    links = _supplement_links(target, cross) if cross is not None else {}
    if not links:
        return LibraryRoot("multiarch", Path("/"), None)
    overlay = _overlay(target, "supplement", cross or Path("/"), links)
    return LibraryRoot("multiarch", Path("/"), overlay, f"+{len(links)} libraries of {cross}")


def _library_files(folder: Path) -> list[Path]:
    with contextlib.suppress(OSError):
        return sorted(p for p in folder.iterdir() if ".so" in p.name and p.is_file())
    return []


def _pinning_links(target: Target, tree: Path) -> dict[str, Path]:
    """Overlay entries that map the loader's multiarch paths and the cache into `tree`."""
    links: dict[str, Path] = {}
    lib = tree / "lib"
    for folder in ("lib", "lib64", "lib32", "libx32"):
        if (tree / folder).is_dir():
            for entry in sorted((tree / folder).iterdir()):
                links[f"{folder}/{entry.name}"] = entry
    for name in multiarch_names(target):
        links[f"lib/{name}"] = lib
        links[f"usr/lib/{name}"] = lib
    return links


def _supplement_links(target: Target, cross: Path) -> dict[str, Path]:
    """Runtime libraries (`libX.so.N`) of the cross sysroot that the host's multiarch
    directories lack; never a part of glibc, which must stay the loader's."""
    name = multiarch_names(target)[0]
    present = {p.name for folder in (Path("/lib") / name, Path("/usr/lib") / name)
               for p in _library_files(folder)}
    return {f"usr/lib/{name}/{library.name}": library
            for library in _library_files(cross / "lib")
            if _RUNTIME_NAME.fullmatch(library.name) and library.name not in present
            and library.name.split(".so")[0] not in _GLIBC_STEMS}


def _stamp(links: dict[str, Path]) -> str:
    digest = hashlib.sha256()
    for name, source in sorted(links.items()):
        try:
            mtime = source.stat().st_mtime_ns
        except OSError:
            mtime = 0
        digest.update(f"{name}\0{source}\0{mtime}\n".encode())
    return digest.hexdigest()[:20]


def _overlay(target: Target, kind: str, tree: Path, links: dict[str, Path]) -> Path:
    """The overlay directory for `links` (built once; replaced whole, never half-built)."""
    root = user_cache_dir() / "roots"
    final = root / f"{target.name}-{kind}-{_stamp(links)}"
    if final.is_dir():
        return final
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = make_temp_dir(root, f".{final.name}-")
    except OSError as error:
        raise SetupError(f"cannot build the library overlay for target '{target.name}' in "
                         f"{root} ({error.strerror}): make the cache writable, or set "
                         "XDG_CACHE_HOME") from None
    try:
        for name, source in links.items():
            place = staging / name
            place.parent.mkdir(parents=True, exist_ok=True)
            place.symlink_to(source)
        if kind == "pin":
            (staging / "etc").mkdir(exist_ok=True)
            (staging / "etc" / "ld.so.cache").write_bytes(_EMPTY_CACHE)
        os.rename(staging, final)
    except FileExistsError:
        pass  # another process built the same overlay first
    except OSError as error:
        raise SetupError(f"cannot build the library overlay {final} ({error.strerror})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final
