/* Thread-local variables across files (local-exec, initial-exec, and with
 * -fPIC general- and local-dynamic, relaxed to local-exec in a static
 * executable), a constructor in .init_array, a COMDAT inline function and
 * a COMDAT constant; _start sets up the thread pointer from PT_TLS and runs
 * the init array as a libc would, and exits with 42. TestCCArchiveTLS also
 * links main.o against the other files as a static archive (ar rcs). */
#include "../sys.h"
#include "twice.h"

static _Thread_local int local_tls = 3;
extern _Thread_local long counter;
extern _Thread_local long zero_tls;
extern long ctor_ran;
void tls_setup(void);
long counter_plus(long d);

extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);

ENTRY {
	tls_setup();
	for (void (**f)(void) = __init_array_start; f < __init_array_end; f++)
		(*f)();
	/* counter: 5, then 15 after the constructor. */
	long r = twice((int)counter) + local_tls * scale + zero_tls + ctor_ran;
	r += counter_plus(1) - counter;	/* 0: the library sees the same TLS */
	sys_exit(r);
}
