/* Command-line front end of the demo library. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bytes.h"

static atomic_long total;

static void *add_many(void *arg) {
    for (long i = 0; i < (long)(size_t)arg; i++) atomic_fetch_add(&total, 1);
    return NULL;
}

static int crc_stdin(void) {
    static uint8_t buffer[1 << 16];
    size_t len = fread(buffer, 1, sizeof buffer, stdin);
    printf("%08x\n", demo_crc32(buffer, len));
    return 0;
}

static int threads(int count) {
    pthread_t ids[64];
    if (count < 1 || count > 64) return 2;
    for (int i = 0; i < count; i++) pthread_create(&ids[i], NULL, add_many, (void *)(size_t)10000);
    for (int i = 0; i < count; i++) pthread_join(ids[i], NULL);
    printf("%ld\n", (long)atomic_load(&total));
    return 0;
}

static int throughput(void) {
    size_t len = 8u << 20;
    uint8_t *data = calloc(len, 1);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    uint32_t crc = demo_crc32(data, len);
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    printf("%.1f MB/s (crc %08x)\n", len / 1e6 / seconds, crc);
    free(data);
    return 0;
}

int main(int argc, char **argv) {
    const char *cmd = argc > 1 ? argv[1] : "crc";
    if (!strcmp(cmd, "crc")) return crc_stdin();
    if (!strcmp(cmd, "order")) return puts(demo_byte_order()) < 0;
    if (!strcmp(cmd, "be32")) return printf("%u\n", demo_load_be32((const uint8_t *)"\x01\x02\x03\x04")) < 0;
    if (!strcmp(cmd, "threads")) return threads(argc > 2 ? atoi(argv[2]) : 4);
    if (!strcmp(cmd, "throughput")) return throughput();
    if (!strcmp(cmd, "crash")) { volatile int *nowhere = NULL; return *nowhere; }
    fprintf(stderr, "unknown command %s\n", cmd);
    return 2;
}
