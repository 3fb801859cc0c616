/* A dense switch (a jump table in anonymous .rodata), a switch returning
   string literals (a lookup table of pointers to them, also anonymous), and
   the literals' bytes read back. */
#include "../sys.h"

/* rounds is volatile so that no optimizer folds the loop away. */
volatile int rounds = 12;

__attribute__((noinline)) static long classify(long x, long y) {
	switch (x) {
	case 0: return y * 3 + 1;
	case 1: return y ^ 0x5a;
	case 2: return (y << 3) - y;
	case 3: return y / 3 + 92;
	case 4: return ~y & 0xff;
	case 5: return y * y;
	case 6: return y - 89;
	case 7: return (y >> 1) | 0x40;
	case 8: return y % 7;
	default: return -1;
	}
}

__attribute__((noinline)) static const char *name(int x) {
	switch (x) {
	case 0: return "zero";
	case 1: return "one";
	case 2: return "two";
	case 3: return "three";
	case 5: return "five";
	case 8: return "eight";
	case 9: return "nine";
	default: return "many";
	}
}

static int length(const char *s) {
	int n = 0;
	while (s[n])
		n++;
	return n;
}

ENTRY {
	long s = 0;
	for (int i = 0; i < rounds; i++)
		s += classify(i, s + i) + length(name(i)) + name(i)[0];
	sys_exit(s & 0xff);
}
