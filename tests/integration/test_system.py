"""The system runner: real aarch64 programs on Debian's arm64 kernel under qemu-system.

Each gap test runs the same program under QEMU user-mode too and shows that the
answer differs there: that is what `system` fidelity is for. Each guest's tests
share an xdist group, so one worker boots each guest once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import xml.etree.ElementTree as ET
from pathlib import Path

import psutil
import pytest

from pytest_xarch import run, runner_for
from pytest_xarch.errors import SetupError
from pytest_xarch.fidelity import Fidelity
from pytest_xarch.runners.system import SystemRunner, readiness
from pytest_xarch.system.packages import PrivateApt, unpack
from pytest_xarch.targets import Target, resolve_target

from ..support.build import CrossBuilder
from ..support.probes import probe_source
from ..support.tools import require_tool
from .suites.builders import cached

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("system")]

PROBE = probe_source(headers="""
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <sys/auxv.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
""", modes=r"""
    if (!strcmp(mode, "write")) {
        FILE *f = fopen(argv[2], "w"); if (!f) { perror(argv[2]); return 1; }
        fputs(argv[3], f); fclose(f); return 0;
    }
    if (!strcmp(mode, "system")) return system(argv[2]) == 0 ? 0 : 1;
    if (!strcmp(mode, "alive")) return kill(atoi(argv[2]), 0) == 0 ? 0 : 1;
    if (!strcmp(mode, "ptrace")) {  /* a debugger's first steps: trace a child, resume it */
        pid_t child = fork();
        if (child == 0) {
            if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) { perror("PTRACE_TRACEME"); _exit(2); }
            raise(SIGSTOP);
            _exit(7);
        }
        int status;
        waitpid(child, &status, 0);
        if (!WIFSTOPPED(status)) { printf("child not stopped (status %#x)\n", status); return 1; }
        if (ptrace(PTRACE_CONT, child, 0, 0) != 0) { perror("PTRACE_CONT"); return 1; }
        waitpid(child, &status, 0);
        printf("traced child stopped, resumed, exited %d\n", WEXITSTATUS(status));
        return WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0 : 1;
    }
    if (!strcmp(mode, "cpus")) {
        printf("online %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
        FILE *f = fopen("/proc/cpuinfo", "r"); char line[4096];
        while (f && fgets(line, sizeof line, f))
            if (!strncmp(line, "Features", 8) || !strncmp(line, "CPU part", 8)) {
                fputs(line, stdout);
                if (!strncmp(line, "CPU part", 8)) break;
            }
        return 0;
    }
    if (!strcmp(mode, "io_uring")) {
        struct io_uring_params params;
        memset(&params, 0, sizeof params);
        long fd = syscall(__NR_io_uring_setup, 8, &params);
        if (fd < 0) { printf("io_uring_setup: %s\n", strerror(errno)); return 1; }
        printf("io_uring ring of %u entries\n", params.sq_entries);
        return 0;
    }
    if (!strcmp(mode, "pagesize"))
        { printf("%ld %lu\n", sysconf(_SC_PAGESIZE), getauxval(AT_PAGESZ)); return 0; }
    if (!strcmp(mode, "panic")) {  /* only ever inside the guest: never the host's kernel */
        if (access("/xarch/boot.conf", F_OK) != 0) { puts("not in a guest"); return 3; }
        int fd = open("/proc/sysrq-trigger", O_WRONLY);
        if (fd < 0 || write(fd, "c", 1) != 1) { perror("sysrq"); return 4; }
        return 5;
    }
""")


@pytest.fixture(scope="module")
def probe(cross_build: CrossBuilder) -> Path:
    """The probe, dynamically linked against the cross sysroot's glibc."""
    return cross_build.build("aarch64", PROBE, name="probe")


def system_target(**settings: object) -> Target:
    target = resolve_target("aarch64")
    return dataclasses.replace(target, runner="system", **settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def guest() -> Target:
    require_tool("qemu-system-aarch64", "qemu-system-arm")
    return system_target(smp=3)


@pytest.fixture(scope="module")
def runner(guest: Target) -> SystemRunner:
    made = runner_for(guest)
    assert isinstance(made, SystemRunner)
    return made


@pytest.fixture(scope="module")
def user_mode() -> Target:
    return resolve_target("aarch64")


# -- the gaps: each differs under user-mode ------------------------------------------------
def test_a_program_can_ptrace_its_child(
    guest: Target, runner: SystemRunner, user_mode: Target, probe: Path
) -> None:
    result = run(guest, [str(probe), "ptrace"], runner=runner)
    assert result.ok, result.explain()
    assert result.stdout == "traced child stopped, resumed, exited 7\n"
    emulated = run(user_mode, [str(probe), "ptrace"])
    assert not emulated.ok and "child not stopped" in emulated.stdout, emulated.explain()


def test_cpu_count_and_features_are_the_pinned_cpus(
    guest: Target, runner: SystemRunner, user_mode: Target, probe: Path
) -> None:
    result = run(guest, [str(probe), "cpus"], runner=runner)
    assert result.ok, result.explain()
    lines = result.stdout.splitlines()
    assert lines[0] == "online 3"  # -smp 3, whatever this host has
    features = lines[1].split(":", 1)[1].split()
    assert {"fp", "asimd", "crc32"} <= set(features)
    assert "atomics" not in features  # cortex-a53 is ARMv8.0: no LSE
    assert lines[2].split(":")[1].strip() == "0xd03"  # Cortex-A53's part number
    emulated = run(user_mode, [str(probe), "cpus"])
    assert emulated.stdout.splitlines()[0] == f"online {os.cpu_count()}"
    assert "CPU part" not in emulated.stdout  # the host's x86-64 /proc/cpuinfo


def test_io_uring_works_on_the_guest_kernel(
    guest: Target, runner: SystemRunner, user_mode: Target, probe: Path
) -> None:
    result = run(guest, [str(probe), "io_uring"], runner=runner)
    assert result.stdout == "io_uring ring of 8 entries\n", result.explain()
    emulated = run(user_mode, [str(probe), "io_uring"])
    assert emulated.stdout == "io_uring_setup: Function not implemented\n", emulated.explain()


def test_page_size_is_the_guest_kernels(guest: Target, runner: SystemRunner, probe: Path) -> None:
    result = run(guest, [str(probe), "pagesize"], runner=runner)
    config = runner.image().kernel.with_name("config").read_text()  # the package's config
    expected = {"CONFIG_ARM64_4K_PAGES": 4096, "CONFIG_ARM64_16K_PAGES": 16384,
                "CONFIG_ARM64_64K_PAGES": 65536}
    size = next(value for name, value in expected.items() if f"{name}=y" in config)
    assert result.stdout == f"{size} {size}\n", result.explain()


def _debian_sources(suite: str) -> str:
    """A deb822 entry for `suite` at this machine's own Debian mirror."""
    uris = "http://deb.debian.org/debian"
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("URIs:") and "security" not in line:
                uris = line.split(":", 1)[1].strip()
                break
    return (f"Types: deb\nURIs: {uris}\nSuites: {suite}\nComponents: main\n"
            "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n")


@pytest.fixture(scope="module")
def kernel_16k(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Debian 13's 16K-page arm64 kernel and its modules folder, as a user would set them up
    (apt-get download in a private apt state, dpkg-deb -x)."""
    root = tmp_path_factory.getbasetemp().parent / "xarch-test-builds"

    def make(folder: Path) -> None:
        apt = PrivateApt("arm64", folder / "apt", sources=_debian_sources("trixie"))
        apt.refresh()
        package = next(name for name in apt.depends("linux-image-arm64-16k")
                       if name.startswith("linux-image-"))
        debs = folder / "debs"
        debs.mkdir()
        for deb in apt.download([package], debs):
            unpack(deb, folder / "tree")
        shutil.rmtree(debs)

    tree = cached(root, "debian-13-arm64-16k-kernel", make) / "tree"
    kernel = next((tree / "boot").glob("vmlinuz-*"))
    return kernel, tree / "usr" / "lib" / "modules" / kernel.name[len("vmlinuz-"):]


@pytest.mark.xdist_group("system-16k")  # a guest of its own: beside the others under xdist
def test_a_configured_16k_page_kernel_is_honoured(
    kernel_16k: tuple[Path, Path], user_mode: Target, probe: Path
) -> None:
    kernel, modules = kernel_16k
    # Cortex-A53 has no 16K translation granule: the CPU must be one that has.
    target = system_target(kernel=str(kernel), modules=str(modules), cpu="max")
    result = run(target, [str(probe), "pagesize"])
    assert result.stdout == "16384 16384\n", result.explain()
    assert f"kernel {kernel.name}" in result.runner_description
    assert run(user_mode, [str(probe), "pagesize"]).stdout == "4096 4096\n"


@pytest.mark.parametrize(("mode", "system_says", "user_mode_says"), [
    ("ptrace", "traced child stopped, resumed, exited 7\n", "child not stopped"),
    ("io_uring", "io_uring ring of 8 entries\n", "Function not implemented"),
    ("cpus", "CPU part\t: 0xc07", "online"),  # Cortex-A7's part number; the host has none
])
@pytest.mark.xdist_group("system-armhf")  # a guest of its own: beside the others
def test_an_armv7_guest_closes_the_same_gaps(
    cross_build: CrossBuilder, mode: str, system_says: str, user_mode_says: str
) -> None:
    require_tool("qemu-system-arm", "qemu-system-arm")
    probe = cross_build.build("armv7", PROBE, name="probe")
    armv7 = dataclasses.replace(resolve_target("armv7"), runner="system")
    result = run(armv7, [str(probe), mode])
    assert system_says in result.stdout, result.explain()
    assert "qemu-system-arm 7." in result.runner_description
    emulated = run(resolve_target("armv7"), [str(probe), mode])
    assert user_mode_says in emulated.stdout and system_says not in emulated.stdout


# -- the run contract ------------------------------------------------------------------------
def test_run_has_system_fidelity_and_names_the_kernel(
    guest: Target, runner: SystemRunner, probe: Path
) -> None:
    result = run(guest, [str(probe), "args", "two words", "", "$(touch /x)", "ünï"],
                 runner=runner)
    assert result.returncode == 0, result.explain()
    assert result.stdout == "<two words>\n<>\n<$(touch /x)>\n<ünï>\n"
    assert result.fidelity == Fidelity.SYSTEM
    assert result.runner == "system"
    assert "qemu-system-aarch64" in result.runner_description
    assert "-cpu cortex-a53 -smp 3" in result.runner_description
    assert "kernel 6." in result.runner_description


def test_exit_status_signal_and_stdin(guest: Target, runner: SystemRunner, probe: Path) -> None:
    for status in (0, 3, 200):
        assert run(guest, [str(probe), "exit", str(status)], runner=runner).returncode == status
    died = run(guest, [str(probe), "segv"], runner=runner)
    assert (died.signal, died.returncode, died.exit_status) == (11, -11, 139), died.explain()
    echoed = run(guest, [str(probe), "cat"], stdin="banana\n" * 500, runner=runner)
    assert echoed.stdout == "bAnAnA\n" * 500 and echoed.stderr == "done\n", echoed.explain()


def test_environment_is_a_user_mode_runs(
    guest: Target, runner: SystemRunner, probe: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROBE_FROM_HOST", "inherited")
    monkeypatch.setenv("LD_PRELOAD", "/nonexistent.so")  # the host's loader's, never the guest's
    result = run(guest, [str(probe), "env", "PROBE_FROM_HOST", "GIVEN", "LD_PRELOAD",
                         "XARCH_FIDELITY"], env={"GIVEN": "a 'b' $(c)\nd"}, runner=runner)
    assert result.stdout == ("PROBE_FROM_HOST=inherited\nGIVEN=a 'b' $(c)\nd\n"
                             "LD_PRELOAD=(unset)\nXARCH_FIDELITY=system\n"), result.explain()


def test_programs_run_at_their_host_paths_and_write_host_files(
    guest: Target, runner: SystemRunner, probe: Path, tmp_path: Path
) -> None:
    odd = tmp_path / "a dir; $(odd)"
    odd.mkdir()
    here = run(guest, [str(probe), "cwd"], cwd=str(odd), runner=runner)
    assert here.stdout == f"{odd}\n", here.explain()
    default = run(guest, [str(probe), "cwd"], runner=runner)
    assert default.stdout == f"{os.getcwd()}\n", default.explain()
    written = run(guest, [str(probe), "write", str(odd / "out.txt"), "from the guest"],
                  runner=runner)
    assert written.ok, written.explain()
    assert (odd / "out.txt").read_text() == "from the guest"


def test_system_and_popen_get_a_target_shell(
    guest: Target, runner: SystemRunner, probe: Path
) -> None:
    result = run(guest, [str(probe), "system", "echo shell says $((6 * 7))"], runner=runner)
    assert result.stdout == "shell says 42\n", result.explain()


def test_timeout_kills_the_process_group_inside_the_guest(
    guest: Target, runner: SystemRunner, probe: Path, tmp_path: Path
) -> None:
    parent_file, child_file = tmp_path / "parent.pid", tmp_path / "child.pid"
    result = run(guest, [str(probe), "hang", str(parent_file), str(child_file)], timeout=3,
                 runner=runner)
    assert result.timed_out and result.signal is None, result.explain()
    for pid_file in (parent_file, child_file):
        pid = pid_file.read_text().strip()
        alive = run(guest, [str(probe), "alive", pid], runner=runner)
        assert alive.returncode == 1, f"guest process {pid} survived the timeout"


def test_a_kernel_panic_is_reported_and_the_next_run_boots_again(
    guest: Target, runner: SystemRunner, probe: Path
) -> None:
    assert run(guest, [str(probe), "exit", "0"], runner=runner).ok
    boots = runner.guest_boots()
    panicked = r"(?s)guest's kernel panicked during this run.*sysrq triggered crash"
    with pytest.raises(SetupError, match=panicked):
        run(guest, [str(probe), "panic"], runner=runner)
    after = run(guest, [str(probe), "exit", "0"], runner=runner)
    assert after.ok, after.explain()
    assert runner.guest_boots() == boots + 1


def test_a_hung_guest_is_reported_and_replaced(
    guest: Target, runner: SystemRunner, probe: Path
) -> None:
    assert run(guest, [str(probe), "exit", "0"], runner=runner).ok
    boots = runner.guest_boots()
    pid = runner.guest_pid()
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # the whole machine freezes, as a wedged kernel would
    with pytest.raises(SetupError, match=r"guest stopped answering during this run"):
        run(guest, [str(probe), "exit", "0"], timeout=2, runner=runner)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert run(guest, [str(probe), "exit", "0"], runner=runner).ok
    assert runner.guest_boots() == boots + 1


# -- errors ----------------------------------------------------------------------------------
def test_no_qemu_system_is_a_clear_setup_error(
    probe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SetupError, match=r"qemu-system-aarch64 not found.*qemu-system-arm"):
        run(system_target(smp=1), [str(probe), "exit", "0"])


def test_a_configured_kernel_that_is_missing_is_named(probe: Path, tmp_path: Path) -> None:
    target = system_target(kernel=str(tmp_path / "vmlinuz-absent"))
    with pytest.raises(SetupError, match=r"kernel .*vmlinuz-absent does not exist"):
        run(target, [str(probe), "exit", "0"])


def test_a_boot_timeout_shows_the_console(guest: Target, probe: Path) -> None:
    # The kernel writes its first console line about 0.5 s after QEMU starts and the guest
    # is ready after about 2.4 s here: 1.5 s always times out, with a console to show.
    target = system_target(boot_timeout=1.5, smp=1)
    console = r"; console:\n\[ *\d+\.\d+\] "  # kernel lines: "[    0.95] pci ..."
    with pytest.raises(SetupError, match=r"did not come up within 1\.5 s.*" + console):
        run(target, [str(probe), "exit", "0"])


def test_a_target_without_a_platform_is_refused() -> None:
    other = dataclasses.replace(resolve_target("riscv64"), runner="system")
    with pytest.raises(SetupError, match="cannot run under system emulation yet"):
        runner_for(other)
    ready, status = readiness(other)
    assert not ready and "cannot run under system emulation yet" in status


def test_xarch_targets_says_whether_the_system_runner_can_run(
    guest: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ready, status = readiness(guest)
    assert ready and status.startswith("qemu-system-aarch64 7.")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert readiness(system_target(smp=1)) == (
        False, "qemu-system-aarch64 not found: apt-get install qemu-system-arm")


# -- in a pytest session ---------------------------------------------------------------------
def test_a_session_reports_system_fidelity_and_runs_kernel_tests(
    probe: Path, pytester: pytest.Pytester
) -> None:
    require_tool("qemu-system-aarch64", "qemu-system-arm")
    pytester.makepyfile(test_kernel=f"""
        import pytest
        PROBE = {str(probe)!r}

        @pytest.mark.xarch_min_fidelity("system", reason="traces a child")
        def test_ptrace(xarch_run):
            assert xarch_run(PROBE, "ptrace").returncode == 0

        def test_args(xarch_run):
            assert xarch_run(PROBE, "args", "a b").stdout == "<a b>\\n"
    """)
    system = pytester.runpytest_subprocess(
        "--xarch=aarch64", "--xarch-runner=aarch64=system", "-v", "-p", "no:cacheprovider",
        "--junitxml=junit.xml", "--xarch-report=report.json",
    )
    system.assert_outcomes(passed=2)
    report = json.loads((pytester.path / "report.json").read_text())
    assert {(r["nodeid"].split("::")[1], r["fidelity"], r["runner"])
            for r in report["tests"]} == {
        ("test_ptrace[aarch64]", "system", "system"), ("test_args[aarch64]", "system", "system"),
    }
    fidelities = {p.get("value") for p in ET.parse(pytester.path / "junit.xml").iter("property")
                  if p.get("name") == "xarch_fidelity"}
    assert fidelities == {"system"}
    emulated = pytester.runpytest_subprocess("--xarch=aarch64", "-p", "no:cacheprovider", "-rs")
    emulated.assert_outcomes(passed=1, skipped=1)
    emulated.stdout.fnmatch_lines(
        ["*aarch64 runs under qemu-aarch64*needs fidelity system or above*"])
