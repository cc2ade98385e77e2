#include "greet.h"

const char *greet_machine(void) {
#if defined(__aarch64__)
  return "aarch64";
#elif defined(__arm__)
  return "arm";
#elif defined(__riscv)
  return "riscv64";
#else
  return "other";
#endif
}

int greet_add(int a, int b) { return a + b; }
