/* Calls and data across two files: a table of function pointers defined
   in b.c, extern globals, and a static `counter` in each file (the
   canonical image qualifies the two by their STT_FILE). */
#include "../sys.h"

extern int scale(int);
extern int (*const ops[])(int);
extern int nops;
extern const char *greeting;

static int counter;

__attribute__((noinline)) int bump(int k) {
	counter += k;
	return counter;
}

ENTRY {
	int s = 0;
	for (int i = 0; i < nops; i++)
		s += ops[i](i + 4);
	s += scale(bump(3)) + scale(bump(5));
	s += greeting[1];
	sys_exit(s & 0xff);
}
