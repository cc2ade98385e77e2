/* test_checksum [TEXT EXPECTED]: exit 0 when checksum(TEXT) == EXPECTED. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checksum.h"

static const char *machine(void) {
#if defined(__aarch64__)
    return "aarch64";
#elif defined(__arm__)
    return "arm";
#elif defined(__riscv)
    return "riscv64";
#elif defined(__x86_64__)
    return "x86_64";
#else
    return "other";
#endif
}

int main(int argc, char **argv) {
    const char *text = argc > 2 ? argv[1] : "123456789";
    uint32_t expected = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 0xcbf43926u;
    uint32_t actual = checksum(text, strlen(text));
    const char *fidelity = getenv("XARCH_FIDELITY");
    printf("machine=%s fidelity=%s checksum(%s)=0x%08x\n",
           machine(), fidelity ? fidelity : "unknown", text, (unsigned)actual);
    return actual == expected ? 0 : 1;
}
