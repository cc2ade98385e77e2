/* Built with -march=armv8.2-a this uses LSE atomics (ldadd), which a Cortex-A53 lacks. */
#include <stdatomic.h>
#include <stdio.h>
static _Atomic long counter;
int main(void) { atomic_fetch_add(&counter, 41); printf("%ld\n", (long)counter + 1); return 0; }
