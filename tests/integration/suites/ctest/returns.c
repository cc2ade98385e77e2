/* Exits with the status given as argv[1]; "crash" dereferences NULL, "hang" never returns. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "0";
  printf("returns %s\n", what);
  fflush(stdout);
  if (strcmp(what, "crash") == 0) {
    volatile int *nowhere = NULL;
    *nowhere = 1;
  }
  if (strcmp(what, "hang") == 0)
    for (;;) sleep(1);
  return atoi(what);
}
