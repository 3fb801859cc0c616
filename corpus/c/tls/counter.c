/* counter.c: TLS variables in .tdata and .tbss, and a constructor that
 * changes one of them. */
#include "twice.h"

_Thread_local long counter = 5;
_Thread_local long zero_tls;
long ctor_ran;

__attribute__((constructor)) static void init(void) {
	__asm__ volatile("" ::: "memory");
	counter += 10;
	ctor_ran = twice(3);
}

long counter_plus(long d) { return counter + d - 1 + zero_tls; }
