"""The probe program the runner tests run: the run contract's modes, plus a test's own.

`probe_source()` is C text; each mode is `probe MODE ARGS...`:
args (prints each argument as <arg>), exit N, segv, env NAME... (prints NAME=value),
cwd, cat (stdin to stdout with a to A, then "done" on stderr), hang PIDFILE CHILDFILE
(writes its pid and a child's, then both wait forever).
"""

from __future__ import annotations

_CONTRACT_MODES = r"""
    if (!strcmp(mode, "args")) {
        for (int i = 2; i < argc; i++) printf("<%s>\n", argv[i]);
        return 0;
    }
    if (!strcmp(mode, "exit")) return atoi(argv[2]);
    if (!strcmp(mode, "segv")) { raise(SIGSEGV); return 0; }
    if (!strcmp(mode, "env")) {
        for (int i = 2; i < argc; i++) {
            const char *v = getenv(argv[i]);
            printf("%s=%s\n", argv[i], v ? v : "(unset)");
        }
        return 0;
    }
    if (!strcmp(mode, "cwd")) { char b[4096]; puts(getcwd(b, sizeof b)); return 0; }
    if (!strcmp(mode, "cat")) {
        int c; while ((c = getchar()) != EOF) putchar(c == 'a' ? 'A' : c);
        fprintf(stderr, "done\n");
        return 0;
    }
    if (!strcmp(mode, "hang")) {
        FILE *f = fopen(argv[2], "w"); fprintf(f, "%d\n", (int)getpid()); fclose(f);
        if (fork() == 0) {  /* a child in the same process group must die too */
            FILE *g = fopen(argv[3], "w"); fprintf(g, "%d\n", (int)getpid()); fclose(g);
            for (;;) pause();
        }
        for (;;) pause();
    }
"""


def probe_source(*, headers: str = "", modes: str = "") -> str:
    """The probe's C text, with extra `#include` lines and extra modes (C statements that
    see `mode`, `argc` and `argv`, as the contract's modes do)."""
    return (
        "#define _GNU_SOURCE\n#include <signal.h>\n#include <stdio.h>\n#include <stdlib.h>\n"
        f"#include <string.h>\n#include <unistd.h>\n{headers}\n"
        "int main(int argc, char **argv) {\n"
        '    const char *mode = argc > 1 ? argv[1] : "args";\n'
        f"{_CONTRACT_MODES}{modes}    return 99;\n}}\n"
    )
