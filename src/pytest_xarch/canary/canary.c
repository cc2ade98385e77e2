/* pytest-xarch self-test canary (C).
 *
 * Exercises what breaks first on a new target or a bad emulator. Usage:
 *     canary BITS ENDIAN        e.g. `canary 64 little`
 * Prints the plan, then one line per probe, `<name> ok|FAIL <detail>`, then
 * `xarch-canary ok` or `xarch-canary FAIL <first failed probe>`; exits 0 when
 * every probe passed, 1 when one failed, 2 on bad arguments. Output is flushed
 * after each line so a crash still shows how far it got.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4
#define ATOMIC_ROUNDS 20000
#define BIG_BLOCK (64u * 1024u * 1024u)

static const char *first_failure;
static char detail[256];

static void report(const char *name, int ok) {
    printf("%s %s %s\n", name, ok ? "ok" : "FAIL", detail);
    fflush(stdout);
    if (!ok && !first_failure)
        first_failure = name;
    detail[0] = '\0';
}

#define SAY(...) snprintf(detail, sizeof detail, __VA_ARGS__)

static int probe_pointer_size(int bits) {
    int actual = (int)(sizeof(void *) * 8);
    SAY("%d-bit pointers, %d-bit long (target expects %d-bit)", actual,
        (int)(sizeof(long) * 8), bits);
    return actual == bits && sizeof(long) == sizeof(void *);
}

static int probe_endianness(const char *expected) {
    const uint32_t word = 0x01020304u;
    unsigned char first;
    memcpy(&first, &word, 1);
    const char *actual = first == 0x04 ? "little" : first == 0x01 ? "big" : "mixed";
    SAY("%s-endian (target expects %s)", actual, expected);
    return strcmp(actual, expected) == 0;
}

/* Threads, TLS and atomics share one set of workers. */
static _Thread_local int tls_value = 7;
static _Thread_local char tls_block[64];
static atomic_int counter;
#if ATOMIC_LLONG_LOCK_FREE == 2
#define WIDE "64-bit, "
static atomic_llong wide_counter;
#else /* e.g. ARMv5: 64-bit atomics would need libatomic, which the canary does not link */
#define WIDE ""
static long long wide_counter; /* guarded by `spin` */
#endif
static atomic_flag spin = ATOMIC_FLAG_INIT;
static long plain_total; /* guarded by `spin` */

struct worker {
    pthread_t thread;
    int index;
    int tls_seen;
    uintptr_t tls_address;
    int result;
};

static void *work(void *arg) {
    struct worker *self = arg;
    self->tls_seen = tls_value; /* must be the initial value in every thread */
    tls_value = 100 + self->index;
    memset(tls_block, self->index, sizeof tls_block);
    self->tls_address = (uintptr_t)&tls_value;
    for (int i = 0; i < ATOMIC_ROUNDS; i++) {
        atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
#if ATOMIC_LLONG_LOCK_FREE == 2
        atomic_fetch_add(&wide_counter, 3);
#endif
        while (atomic_flag_test_and_set_explicit(&spin, memory_order_acquire)) {
        }
        plain_total += 1;
#if ATOMIC_LLONG_LOCK_FREE != 2
        wide_counter += 3;
#endif
        atomic_flag_clear_explicit(&spin, memory_order_release);
    }
    for (size_t i = 0; i < sizeof tls_block; i++)
        if (tls_block[i] != (char)self->index)
            return NULL;
    self->result = tls_value == 100 + self->index ? 42 + self->index : -1;
    return self;
}

static struct worker workers[THREADS];
static int threads_started;

static int probe_threads(void) {
    for (int i = 0; i < THREADS; i++) {
        workers[i].index = i + 1;
        int error = pthread_create(&workers[i].thread, NULL, work, &workers[i]);
        if (error) {
            SAY("pthread_create of thread %d: %s", i + 1, strerror(error));
            for (int j = 0; j < i; j++)
                pthread_join(workers[j].thread, NULL);
            return 0;
        }
    }
    int good = 1;
    for (int i = 0; i < THREADS; i++) {
        void *returned = NULL;
        int error = pthread_join(workers[i].thread, &returned);
        if (error) {
            SAY("pthread_join of thread %d: %s", i + 1, strerror(error));
            return 0;
        }
        if (returned != &workers[i] || workers[i].result != 42 + workers[i].index)
            good = 0;
    }
    threads_started = 1;
    SAY("%d threads created and joined", THREADS);
    if (!good)
        SAY("a thread returned the wrong value (its thread-local data was clobbered)");
    return good;
}

static int probe_tls(void) {
    if (!threads_started) {
        SAY("not run: needs the threads probe");
        return 0;
    }
    for (int i = 0; i < THREADS; i++) {
        if (workers[i].tls_seen != 7) {
            SAY("thread %d saw %d as the initial _Thread_local value, expected 7",
                i + 1, workers[i].tls_seen);
            return 0;
        }
        for (int j = 0; j < i; j++)
            if (workers[i].tls_address == workers[j].tls_address) {
                SAY("threads %d and %d share one _Thread_local variable", j + 1, i + 1);
                return 0;
            }
    }
    if (tls_value != 7) {
        SAY("main thread's _Thread_local value changed to %d by other threads", tls_value);
        return 0;
    }
    SAY("%d threads, each with its own _Thread_local copy", THREADS + 1);
    return 1;
}

static int probe_atomics(void) {
    if (!threads_started) {
        SAY("not run: needs the threads probe");
        return 0;
    }
    int expected = THREADS * ATOMIC_ROUNDS;
    int total = atomic_load(&counter);
    long long wide_expected = 3LL * expected;
    int swapped = total;
    int exchanged = atomic_compare_exchange_strong(&counter, &swapped, total + 1);
#if ATOMIC_LLONG_LOCK_FREE == 2
    long long wide = atomic_load(&wide_counter);
#else
    long long wide = wide_counter;
#endif
    if (total != expected || wide != wide_expected || plain_total != expected || !exchanged) {
        SAY("lost updates: int %d/%d, 64-bit %lld/%lld, spinlock %ld/%d, cas %s", total,
            expected, wide, wide_expected, plain_total, expected, exchanged ? "ok" : "failed");
        return 0;
    }
    SAY("%d concurrent increments (int, " WIDE "spinlock) and compare-exchange exact", expected);
    return 1;
}

static volatile sig_atomic_t handled_signo;
static volatile sig_atomic_t handled_code_ok;

static void on_signal(int signo, siginfo_t *info, void *context) {
    (void)context;
    handled_signo = signo;
    handled_code_ok = info != NULL && info->si_signo == signo;
}

static int probe_signal(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_signal;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGUSR1, &action, NULL) != 0) {
        SAY("sigaction: %s", strerror(errno));
        return 0;
    }
    if (raise(SIGUSR1) != 0) {
        SAY("raise: %s", strerror(errno));
        return 0;
    }
    if (handled_signo != SIGUSR1 || !handled_code_ok) {
        SAY("SIGUSR1 handler did not run with the right siginfo (saw signal %d)",
            (int)handled_signo);
        return 0;
    }
    handled_signo = 0;
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    pthread_kill(pthread_self(), SIGUSR1);
    int early = handled_signo;
    pthread_sigmask(SIG_SETMASK, &old, NULL); /* delivers the pending signal */
    if (early || handled_signo != SIGUSR1) {
        SAY("blocked SIGUSR1 was %s", early ? "delivered while blocked" : "lost");
        return 0;
    }
    SAY("SA_SIGINFO handler ran for raise() and for a blocked then unblocked pthread_kill()");
    return 1;
}

static int probe_mmap(void) {
    long page = sysconf(_SC_PAGESIZE);
    if (page < 4096 || (page & (page - 1)) != 0) {
        SAY("sysconf(_SC_PAGESIZE) = %ld, not a power of two >= 4096", page);
        return 0;
    }
    size_t length = (size_t)page * 4;
    unsigned char *area = mmap(NULL, length, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) {
        SAY("mmap of %zu bytes: %s", length, strerror(errno));
        return 0;
    }
    int good = ((uintptr_t)area % (uintptr_t)page) == 0 && area[length - 1] == 0;
    memset(area, 0x5a, length);
    good = good && area[0] == 0x5a && area[length - 1] == 0x5a;
    if (mprotect(area, (size_t)page, PROT_READ) != 0) {
        SAY("mprotect: %s", strerror(errno));
        munmap(area, length);
        return 0;
    }
    if (munmap(area, length) != 0) {
        SAY("munmap: %s", strerror(errno));
        return 0;
    }
    SAY("page size %ld; anonymous mmap, mprotect, munmap work", page);
    if (!good)
        SAY("anonymous mapping at %p is misaligned or not zero-filled (page size %ld)",
            (void *)area, page);
    return good;
}

static double seconds(const struct timespec *t) {
    return (double)t->tv_sec + (double)t->tv_nsec / 1e9;
}

static int probe_clock(void) {
    struct timespec start, end, real;
    if (clock_gettime(CLOCK_MONOTONIC, &start) != 0 || clock_gettime(CLOCK_REALTIME, &real) != 0) {
        SAY("clock_gettime: %s", strerror(errno));
        return 0;
    }
    struct timespec nap = {0, 2000000}; /* 2 ms */
    while (nanosleep(&nap, &nap) != 0 && errno == EINTR) {
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double slept = seconds(&end) - seconds(&start);
    if (real.tv_sec < 1577836800) { /* 2020-01-01 */
        SAY("CLOCK_REALTIME says %lld seconds since 1970, before 2020", (long long)real.tv_sec);
        return 0;
    }
    if (slept < 0.002) {
        SAY("CLOCK_MONOTONIC advanced %.6f s over a 2 ms nanosleep", slept);
        return 0;
    }
    SAY("CLOCK_MONOTONIC advanced %.4f s over a 2 ms nanosleep; CLOCK_REALTIME plausible", slept);
    return 1;
}

static int probe_malloc(void) {
    unsigned char *block = malloc(BIG_BLOCK);
    if (!block) {
        SAY("malloc(%u MiB) returned NULL: %s", BIG_BLOCK >> 20, strerror(errno));
        return 0;
    }
    long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < BIG_BLOCK; i += (size_t)page)
        block[i] = (unsigned char)i;
    block[BIG_BLOCK - 1] = 0xa5;
    int good = block[BIG_BLOCK - 1] == 0xa5 && block[page] == (unsigned char)page;
    free(block);
    SAY("%u MiB allocated, every page written, freed", BIG_BLOCK >> 20);
    return good;
}

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[2], "little") != 0 && strcmp(argv[2], "big") != 0)) {
        fprintf(stderr, "usage: %s BITS little|big\n", argv[0]);
        return 2;
    }
    int bits = atoi(argv[1]);
    printf("xarch-canary plan pointer-size endianness threads tls atomics signal mmap clock "
           "malloc\n");
    fflush(stdout);
    report("pointer-size", probe_pointer_size(bits));
    report("endianness", probe_endianness(argv[2]));
    report("threads", probe_threads());
    report("tls", probe_tls());
    report("atomics", probe_atomics());
    report("signal", probe_signal());
    report("mmap", probe_mmap());
    report("clock", probe_clock());
    report("malloc", probe_malloc());
    if (first_failure) {
        printf("xarch-canary FAIL %s\n", first_failure);
        return 1;
    }
    printf("xarch-canary ok\n");
    return 0;
}
