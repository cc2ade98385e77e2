// Package greet calls C through cgo, so its tests need the target's C compiler.
package greet

/*
#include <stdlib.h>
static int add(int a, int b) { return a + b; }
#if defined(__aarch64__)
static const char *machine(void) { return "aarch64"; }
#else
static const char *machine(void) { return "other"; }
#endif
*/
import "C"

// Add adds in C.
func Add(a, b int) int { return int(C.add(C.int(a), C.int(b))) }

// Machine is the architecture the C code was compiled for.
func Machine() string { return C.GoString(C.machine()) }
