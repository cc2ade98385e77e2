"""The guest image of a target: Debian's kernel and an initramfs of real packages, cached.

The initramfs holds a static busybox (the guest's shell and init tools), the
kernel modules for virtio, 9p and overlayfs, and Dropbear with its libraries
(the SSH server runs go through). Dropbear's loader path is rewritten to the
image's own, so it runs whatever library root the host's files give the guest.
Images live in the user cache (`system/`), built once under a lock and renamed
into place whole.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Optional

from elftools.elf.elffile import ELFFile
from filelock import FileLock

from ..diskcache import user_cache_dir
from ..errors import SetupError
from ..feedback import slow
from ..files import make_temp_dir, write_atomic
from ..targets import Target
from .cpio import CpioWriter
from .modules import load_order, module_bytes, module_index, module_name
from .packages import LISTS_MAX_AGE, PrivateApt, unpack
from .platforms import Platform

_IMAGE_VERSION = "2"  # bump when the image's layout changes
_USERLAND = ["busybox-static", "dropbear-bin", "libc6", "libcrypt1", "libtomcrypt1",
             "libtommath1", "zlib1g", "libgmp10"]
# What the guest needs from the kernel, when it is not built in.
MODULES = ["virtio_pci", "virtio_mmio", "virtio_net", "9pnet_virtio", "9p", "overlay"]
GUEST_LOADER = "/xarch/ld.so"  # Dropbear's loader inside the guest


@dataclass(frozen=True)
class SystemImage:
    """A kernel and the initramfs archives it boots with (joined in this order)."""

    kernel: Path
    initrds: tuple[Path, ...]
    release: str  # the kernel's version, `6.1.0-57-arm64`, or the configured file's name


def _init_script() -> bytes:
    return resources.files(__package__).joinpath("init.sh").read_bytes()


def image_for(target: Target, platform: Platform) -> SystemImage:
    """The image of `target`: its configured `kernel` (with the `modules` it needs from a
    modules folder, and an `initrd` joined in front), or Debian's kernel package; with
    the userland archive built from packages."""
    cache = user_cache_dir() / "system"
    apt = PrivateApt(platform.debian_arch, cache / f"apt-{platform.debian_arch}")
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SetupError(f"cannot create the system image cache {cache} ({error.strerror}): "
                         "make it writable, or set XDG_CACHE_HOME") from None
    if not target.kernel:
        with FileLock(str(cache / f"{platform.debian_arch}.lock"), timeout=900):
            return _built(cache, platform, apt, platform.kernel_package)
    kernel = _configured(target, "kernel", target.kernel)
    front = (_configured(target, "initrd", target.initrd),) if target.initrd else ()
    modules: tuple[Path, ...] = ()
    if target.modules:
        folder = Path(target.modules).expanduser()
        if not folder.is_dir():
            raise SetupError(f"target '{target.name}': modules {target.modules} is not a "
                             "folder (give the kernel's lib/modules/<release>)")
        modules = (_modules_archive(cache, folder),)
    with FileLock(str(cache / f"{platform.debian_arch}.lock"), timeout=900):
        userland = _built(cache, platform, apt, None)
    return SystemImage(kernel, (*front, *userland.initrds, *modules), kernel.name)


def _configured(target: Target, key: str, value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        raise SetupError(f"target '{target.name}': {key} {value} does not exist")
    return path


def _modules_archive(cache: Path, folder: Path) -> Path:
    """An archive of the modules the guest needs from `folder`, loaded in order (it comes
    after the userland archive, whose empty list of modules it replaces)."""
    order = load_order(module_index(folder), MODULES)
    identity = "\0".join(f"{path}\0{path.stat().st_mtime_ns}" for path in order)
    archive = cache / f"modules-{hashlib.sha256(identity.encode()).hexdigest()[:16]}.cpio"
    if not archive.is_file():
        data = io.BytesIO()
        writer = CpioWriter(data)
        _write_modules(writer, order)
        writer.close()
        write_atomic(archive, data.getvalue())
    return archive


def _built(cache: Path, platform: Platform, apt: PrivateApt,
           kernel_package: Optional[str]) -> SystemImage:
    """The cached image (the kernel package's, or the userland alone when it is None).

    A marker per recipe names the image last assembled; it is trusted as long as the
    package lists are (a day), then the packages' versions are looked up again.
    """
    names = [*_USERLAND, *([kernel_package] if kernel_package else [])]
    recipe = hashlib.sha256(f"{_IMAGE_VERSION}\0{names}\0".encode() + _init_script())
    marker = cache / f"{platform.debian_arch}-{recipe.hexdigest()[:16]}.current"
    if marker.is_file() and time.time() - marker.stat().st_mtime < LISTS_MAX_AGE:
        final = cache / marker.read_text().strip()
        if (final / "complete").is_file():
            return _read(final)
    with slow(f"fetching the {platform.debian_arch} guest image "
              f"({kernel_package or 'userland'}, Debian packages)"):
        apt.refresh()
        if kernel_package:
            names[-1] = _concrete(apt, kernel_package)
        versions = "\0".join(f"{name}={version}"
                              for name, version in sorted(apt.versions(names).items()))
        digest = hashlib.sha256(f"{recipe.hexdigest()}\0{versions}".encode()).hexdigest()
        final = cache / f"{platform.debian_arch}-{digest[:16]}"
        if not (final / "complete").is_file():
            _assemble(final, apt, names, with_kernel=bool(kernel_package))
        write_atomic(marker, final.name)
    return _read(final)


def _concrete(apt: PrivateApt, package: str) -> str:
    """`linux-image-6.1.0-57-arm64` for the metapackage `linux-image-arm64`."""
    for name in apt.depends(package):
        if name.startswith("linux-image-"):
            return name
    return package


def _read(folder: Path) -> SystemImage:
    kernel = folder / "vmlinuz"
    release = (folder / "release").read_text().strip() if (folder / "release").is_file() else ""
    return SystemImage(kernel, (folder / "initrd.cpio",), release)


def _assemble(final: Path, apt: PrivateApt, names: list[str], *,
              with_kernel: bool) -> None:
    staging = make_temp_dir(final.parent, f".{final.name}-")
    try:
        debs = staging / "debs"
        tree = staging / "tree"
        debs.mkdir()
        tree.mkdir()
        for deb in apt.download(names, debs):
            unpack(deb, tree)
        out = staging / "image"
        out.mkdir()
        release = ""
        order: list[Path] = []
        if with_kernel:
            kernels = sorted((tree / "boot").glob("vmlinuz-*"))
            if not kernels:
                raise SetupError(f"the kernel package {names[-1]} holds no boot/vmlinuz-*")
            release = kernels[-1].name[len("vmlinuz-"):]
            shutil.copy(kernels[-1], out / "vmlinuz")
            shutil.copy(tree / "boot" / f"config-{release}", out / "config")
            folders = [tree / base / "modules" / release for base in ("lib", "usr/lib")]
            modules = next((folder for folder in folders if folder.is_dir()), folders[0])
            order = load_order(module_index(modules), MODULES)
        with open(out / "initrd.cpio", "wb") as stream:
            _write_initramfs(CpioWriter(stream), tree, order)
        (out / "release").write_text(release)
        (out / "complete").write_text("")
        os.rename(out, final)
    except FileExistsError:
        pass  # another process assembled it first
    except OSError as error:
        raise SetupError(f"cannot build the guest image in {final.parent} "
                         f"({error.strerror})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_initramfs(archive: CpioWriter, tree: Path, modules: list[Path]) -> None:
    for name in ("proc", "sys", "dev", "run", "tmp", "xarch", "xarch/bin", "xarch/host",
                 "xarch/etc", "xarch/modules", "xarch/dropbear", "xarch/dropbear/lib"):
        archive.directory(name)
    archive.file("init", _init_script(), 0o755)
    archive.file("xarch/bin/busybox", (tree / "bin" / "busybox").read_bytes(), 0o755)
    archive.symlink("xarch/bin/sh", "busybox")
    _write_modules(archive, modules)
    loader = next((tree / "lib").glob("ld-linux*")).name  # Debian's glibc loader
    for folder in (*(tree / "lib").glob("*-linux-*"), *(tree / "usr" / "lib").glob("*-linux-*")):
        for library in sorted(folder.glob("*.so*")):
            if library.is_file():
                archive.file(f"xarch/dropbear/lib/{library.name}", library.read_bytes(), 0o755)
    archive.symlink(GUEST_LOADER[1:], f"dropbear/lib/{loader}")
    for program in ("usr/sbin/dropbear", "usr/bin/dropbearkey"):
        data = _with_interpreter((tree / program).read_bytes(), GUEST_LOADER)
        archive.file(f"xarch/bin/{Path(program).name}", data, 0o755)
    archive.close()


def _write_modules(archive: CpioWriter, modules: list[Path]) -> None:
    """The modules, uncompressed, and the order the guest's init loads them in."""
    for module in modules:
        archive.file(f"xarch/modules/{module_name(module)}", module_bytes(module))
    archive.file("xarch/modules/order",
                 "".join(f"{module_name(m)}\n" for m in modules).encode())


def _with_interpreter(data: bytes, interp: str) -> bytes:
    """`data` (an ELF program) with its PT_INTERP path replaced by the shorter `interp`."""
    elf = ELFFile(io.BytesIO(data))
    for segment in elf.iter_segments():
        if segment["p_type"] == "PT_INTERP":
            offset, size = segment["p_offset"], segment["p_filesz"]
            new = interp.encode()
            if len(new) + 1 > size:
                raise SetupError(f"loader path {interp} is longer than the program's own")
            return data[:offset] + new + b"\0" * (size - len(new)) + data[offset + size:]
    return data
