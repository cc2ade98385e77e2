/* Needs libanswer.so from the build tree, found through the RUNPATH CMake gives it. */
#include <stdio.h>

int answer(void);

int main(void) {
  printf("answer %d\n", answer());
  return answer() == 42 ? 0 : 1;
}
