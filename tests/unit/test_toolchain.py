"""Toolchain discovery order, cache keys and error trimming, with fake compilers on PATH.

The real compilers are exercised in tests/integration/test_toolchain.py.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import sys
from pathlib import Path

import pytest

from pytest_xarch import toolchain
from pytest_xarch.errors import SetupError
from pytest_xarch.targets import Target, resolve_target
from pytest_xarch.toolchain import (
    MANIFEST,
    BuildError,
    Compiler,
    build,
    build_key,
    find_compiler,
    trim_compiler_output,
)

FAKE_COMPILER = """#!{python}
import sys
if "--version" in sys.argv:
    print("{name} (Fake) 1.0")
    sys.exit(0)
out = sys.argv[sys.argv.index("-o") + 1]
with open(out, "w") as f:
    f.write("built by {name}: " + " ".join(sys.argv[1:]))
"""


def _fake(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text(FAKE_COMPILER.format(python=sys.executable, name=name))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def fake_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty PATH directory, with zig hidden and the discovery cache cleared."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    monkeypatch.setattr(toolchain.compilers, "zig_available", lambda: False)
    # Fake artifacts are not ELF files: the static check is proven by the integration tests.
    monkeypatch.setattr(toolchain.cache, "_check_artifact", lambda artifact, target: None)
    toolchain.clear_compiler_cache()
    yield folder
    toolchain.compilers._find_compiler.cache_clear()  # _identity may be a stand-in here


def _with(target: str, **settings: object) -> Target:
    return dataclasses.replace(resolve_target(target), **settings)  # type: ignore[arg-type]


def test_gnu_prefixed_compiler_is_found_first(fake_path: Path) -> None:
    _fake(fake_path, "aarch64-linux-gnu-gcc")
    _fake(fake_path, "clang")
    compiler = find_compiler(resolve_target("aarch64"))
    assert compiler.kind == "gcc"
    assert compiler.argv == (str(fake_path / "aarch64-linux-gnu-gcc"),)
    assert compiler.identity.endswith("aarch64-linux-gnu-gcc (Fake) 1.0")
    assert compiler.describe() == "aarch64-linux-gnu-gcc"


def test_cxx_uses_the_gnu_gxx(fake_path: Path) -> None:
    _fake(fake_path, "aarch64-linux-gnu-gcc")
    _fake(fake_path, "aarch64-linux-gnu-g++")
    assert find_compiler(resolve_target("aarch64"), "c++").path.endswith("aarch64-linux-gnu-g++")
    assert find_compiler(resolve_target("aarch64"), "cxx").lang == "c++"


def test_configured_compiler_wins_and_keeps_its_arguments(fake_path: Path) -> None:
    _fake(fake_path, "aarch64-linux-gnu-gcc")
    _fake(fake_path, "my-cc")
    compiler = find_compiler(_with("aarch64", cc="my-cc --sysroot=/opt/x"))
    assert compiler.kind == "config"
    assert compiler.argv == (str(fake_path / "my-cc"), "--sysroot=/opt/x")


def test_configured_compiler_that_does_not_exist_is_an_error_not_a_fallback(
    fake_path: Path,
) -> None:
    _fake(fake_path, "aarch64-linux-gnu-gcc")
    with pytest.raises(SetupError, match=r"sets cc = 'nonexistent-cc'.*not an executable"):
        find_compiler(_with("aarch64", cc="nonexistent-cc"))


def test_clang_needs_a_sysroot(fake_path: Path, tmp_path: Path) -> None:
    _fake(fake_path, "clang")
    sysroot = tmp_path / "root"
    (sysroot / "lib").mkdir(parents=True)
    (sysroot / "lib" / "ld-linux-aarch64.so.1").write_text("")
    compiler = find_compiler(_with("aarch64", sysroot=str(sysroot)))
    assert compiler.kind == "clang"
    assert compiler.argv[1:] == ("--target=aarch64-linux-gnu", f"--sysroot={sysroot}")
    with pytest.raises(SetupError):
        find_compiler(_with("aarch64", sysroot=str(tmp_path / "missing")))


def test_musl_targets_prefer_zig(fake_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(fake_path, "aarch64-linux-musl-gcc")
    assert find_compiler(resolve_target("aarch64-musl")).kind == "gcc"  # zig hidden: the GNU one
    toolchain.clear_compiler_cache()
    monkeypatch.setattr(toolchain.compilers, "zig_available", lambda: True)
    monkeypatch.setattr(toolchain.compilers, "_identity", lambda argv: "zig (fake identity)")
    compiler = find_compiler(resolve_target("aarch64-musl"))
    assert compiler.kind == "zig"
    assert compiler.argv[1:] == ("-m", "ziglang", "cc", "-target", "aarch64-linux-musl")
    assert compiler.describe() == "zig cc -target aarch64-linux-musl"
    # no gcc for glibc aarch64 on this PATH
    assert find_compiler(resolve_target("aarch64")).kind == "zig"


def test_zig_links_against_the_targets_glibc_floor(
    fake_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(toolchain.compilers, "zig_available", lambda: True)
    monkeypatch.setattr(toolchain.compilers, "_identity", lambda argv: "zig (fake identity)")
    compiler = find_compiler(_with("armv7", glibc="2.31"), "c++")
    assert compiler.argv[2:] == ("ziglang", "c++", "-target", "arm-linux-gnueabihf.2.31")


def test_no_compiler_names_the_debian_package_and_the_zig_extra(fake_path: Path) -> None:
    with pytest.raises(SetupError) as caught:
        find_compiler(resolve_target("riscv64"), "c++")
    message = str(caught.value)
    assert "no C++ compiler for target 'riscv64'" in message
    assert "apt-get install g++-riscv64-linux-gnu libc6-dev-riscv64-cross" in message
    assert "pytest-xarch[zig]" in message


def test_unknown_language_is_a_clear_error() -> None:
    with pytest.raises(BuildError, match="unknown language 'fortran'"):
        find_compiler(resolve_target("aarch64"), "fortran")


def _key(tmp_path: Path, source: str, flags: tuple[str, ...] = (), static: bool = False,
         identity: str = "gcc 12", target: str = "aarch64") -> str:
    path = tmp_path / "prog.c"
    path.write_text(source)
    compiler = Compiler("gcc", ("/usr/bin/gcc",), identity)
    return build_key(resolve_target(target), compiler, [path], flags, static)


def test_cache_key_covers_sources_headers_flags_compiler_target_and_linking(
    tmp_path: Path,
) -> None:
    base = _key(tmp_path, "int main(void){return 0;}")
    assert base == _key(tmp_path, "int main(void){return 0;}")
    assert base != _key(tmp_path, "int main(void){return 1;}")
    assert base != _key(tmp_path, "int main(void){return 0;}", flags=("-O2",))
    assert base != _key(tmp_path, "int main(void){return 0;}", static=True)
    assert base != _key(tmp_path, "int main(void){return 0;}", identity="gcc 13")
    assert base != _key(tmp_path, "int main(void){return 0;}", target="armv7")
    (tmp_path / "config.h").write_text("#define N 1\n")
    with_header = _key(tmp_path, "int main(void){return 0;}")
    assert with_header != base
    (tmp_path / "config.h").write_text("#define N 2\n")
    assert _key(tmp_path, "int main(void){return 0;}") != with_header


def test_build_caches_logs_and_copies_with_a_fake_compiler(
    fake_path: Path, tmp_path: Path,
) -> None:
    _fake(fake_path, "aarch64-linux-gnu-gcc")
    source = tmp_path / "hello.c"
    source.write_text("int main(void) { return 0; }\n")
    cache = tmp_path / "cache"
    first = build(resolve_target("aarch64"), [source], cflags=["-O2"], cache_dir=cache)
    again = build(resolve_target("aarch64"), source, cflags=["-O2"], cache_dir=cache)
    assert first == again and first.name == "hello" and first.parent.parent == cache
    assert "-O2" in first.read_text()
    assert len((cache / "builds.log").read_text().splitlines()) == 1
    copy = build(resolve_target("aarch64"), [source], cflags=["-O2"], cache_dir=cache,
                 output=tmp_path / "out" / "renamed")
    assert copy == tmp_path / "out" / "renamed" and copy.read_text() == first.read_text()
    build(resolve_target("aarch64"), [source], cflags=["-O2"], static=True, cache_dir=cache)
    assert len((cache / "builds.log").read_text().splitlines()) == 2
    assert not list(cache.glob(".tmp-*"))


def test_cpp_suffix_switches_to_cxx(fake_path: Path, tmp_path: Path) -> None:
    _fake(fake_path, "aarch64-linux-gnu-g++")
    source = tmp_path / "x.cpp"
    source.write_text("int main() {}\n")
    artifact = build(resolve_target("aarch64"), [source], cache_dir=tmp_path / "cache")
    assert artifact.read_text().startswith("built by aarch64-linux-gnu-g++")


def test_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"source file .*nope\.c does not exist"):
        build(resolve_target("aarch64"), [tmp_path / "nope.c"], cache_dir=tmp_path)
    with pytest.raises(BuildError, match="nothing to build"):
        build(resolve_target("aarch64"), [], cache_dir=tmp_path)


GCC_OUTPUT = """\
x.c: In function 'f':
x.c:2:20: warning: unused variable 'a' [-Wunused-variable]
    2 | int f(void) { int a; return 0; }
      |                    ^
x.c: In function 'main':
x.c:5:13: error: 'nope' undeclared (first use in this function)
    5 |     int x = nope + 1;
      |             ^~~~
x.c:5:13: note: each undeclared identifier is reported only once for each function
x.c:9:1: error: expected ';' before '}' token
    9 | }
      | ^
"""


def test_trim_keeps_errors_with_their_excerpts_and_drops_warnings_and_notes() -> None:
    trimmed = trim_compiler_output(GCC_OUTPUT)
    assert trimmed.splitlines() == [
        "x.c:5:13: error: 'nope' undeclared (first use in this function)",
        "    5 |     int x = nope + 1;",
        "      |             ^~~~",
        "x.c:9:1: error: expected ';' before '}' token",
        "    9 | }",
        "      | ^",
    ]


def test_trim_keeps_linker_errors_and_caps_the_length() -> None:
    linker = "\n".join(
        [f"/usr/bin/ld: x.o: in function `f{i}':" for i in range(3)]
        + [f"x.c:(.text+0x{i:x}): undefined reference to `g{i}'" for i in range(40)]
        + ["collect2: error: ld returned 1 exit status"]
    )
    trimmed = trim_compiler_output(linker, limit=10).splitlines()
    assert trimmed[0] == "x.c:(.text+0x0): undefined reference to `g0'"
    assert len(trimmed) == 11 and trimmed[-1] == "... (31 more lines)"


def test_trim_falls_back_to_the_last_lines() -> None:
    text = "\n".join(f"line {i}" for i in range(50))
    assert trim_compiler_output(text, limit=3) == "line 47\nline 48\nline 49"


def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/x/cache")
    from pytest_xarch.diskcache import builds_dir

    assert builds_dir() == Path("/x/cache/pytest-xarch/builds")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert builds_dir() == Path(os.path.expanduser("~/.cache/pytest-xarch/builds"))


def _builds(cache: Path) -> int:
    return len((cache / "builds.log").read_text().splitlines())


@pytest.mark.parametrize("damage", ["truncated", "altered", "stray file", "removed manifest",
                                    "symlinked"])
def test_a_damaged_cache_entry_is_detected_on_a_hit_and_rebuilt(
    fake_path: Path, tmp_path: Path, damage: str,
) -> None:
    _fake(fake_path, "aarch64-linux-gnu-gcc")
    source = tmp_path / "hello.c"
    source.write_text("int main(void) { return 0; }\n")
    cache = tmp_path / "cache"
    artifact = build(resolve_target("aarch64"), [source], cache_dir=cache)
    good = artifact.read_bytes()
    if damage == "truncated":
        artifact.write_bytes(good[:5])
    elif damage == "altered":
        artifact.write_bytes(good[:-1] + b"!")
    elif damage == "stray file":
        (artifact.parent / "core").write_bytes(b"left by someone")
    elif damage == "removed manifest":
        (artifact.parent / MANIFEST).unlink()
    else:
        (tmp_path / "elsewhere").write_bytes(good)
        artifact.unlink()
        artifact.symlink_to(tmp_path / "elsewhere")
    again = build(resolve_target("aarch64"), [source], cache_dir=cache)
    assert again == artifact and not again.is_symlink()
    assert again.read_bytes().startswith(b"built by") and len(again.read_bytes()) > 5
    assert _builds(cache) == 2  # rebuilt once
    assert sorted(p.name for p in again.parent.iterdir()) == sorted(["hello", MANIFEST])
    build(resolve_target("aarch64"), [source], cache_dir=cache)
    assert _builds(cache) == 2  # and intact again


def test_output_replaces_a_planted_symlink_instead_of_writing_through_it(
    fake_path: Path, tmp_path: Path,
) -> None:
    _fake(fake_path, "aarch64-linux-gnu-gcc")
    source = tmp_path / "hello.c"
    source.write_text("int main(void) { return 0; }\n")
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "prog").symlink_to(victim)
    for pid in range(os.getpid() - 2, os.getpid() + 3):  # the old predictable staging names
        (out / f".prog.{pid}.tmp").symlink_to(victim)
    copy = build(resolve_target("aarch64"), [source], cache_dir=tmp_path / "cache",
                 output=out / "prog")
    assert victim.read_text() == "precious\n"
    assert not copy.is_symlink() and copy.read_text().startswith("built by")


def test_cache_entries_and_logs_follow_the_umask(fake_path: Path, tmp_path: Path) -> None:
    _fake(fake_path, "aarch64-linux-gnu-gcc")
    source = tmp_path / "hello.c"
    source.write_text("int main(void) { return 0; }\n")
    old = os.umask(0o002)  # a team's shared cache
    try:
        artifact = build(resolve_target("aarch64"), [source], cache_dir=tmp_path / "cache")
    finally:
        os.umask(old)
    assert stat.S_IMODE(artifact.parent.stat().st_mode) == 0o775
    assert stat.S_IMODE((artifact.parent / MANIFEST).stat().st_mode) == 0o664
    assert stat.S_IMODE((tmp_path / "cache" / "builds.log").stat().st_mode) == 0o664
