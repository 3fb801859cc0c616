/* Read-only tables of pointers (strings and functions) in a struct array,
   a writable table of pointers into it, and a large .bss. */
#include "../sys.h"

struct op {
	const char *name;
	long (*fn)(long, long);
	int weight;
};

__attribute__((noinline)) static long add(long a, long b) { return a + b; }
__attribute__((noinline)) static long sub(long a, long b) { return a - b; }
__attribute__((noinline)) static long mul(long a, long b) { return a * b; }
__attribute__((noinline)) static long mix(long a, long b) { return (a ^ b) + (a & b); }

static const struct op ops[] = {
	{"add", add, 3},
	{"subtract", sub, 5},
	{"multiply", mul, 7},
	{"mix", mix, 11},
};

const struct op *order[] = {&ops[2], &ops[0], &ops[3], &ops[1], &ops[2]};
long scratch[4096];

ENTRY {
	long s = 1;
	for (int i = 0; i < 5; i++) {
		const struct op *o = order[i];
		s = o->fn(s, o->weight) + o->name[1];
		scratch[(s & 4095)] += i;
	}
	for (int i = 0; i < 4096; i++)
		s += scratch[i];
	sys_exit(s & 0xff);
}
