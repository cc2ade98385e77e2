/* A shared library of the project: CMake links its users with a RUNPATH into the build tree. */
int answer(void) { return 42; }
