// hostile.c: a program that tries to get out of its native run. Built
// freestanding (no libc) by TestContainment, with ESCAPE defined as an
// absolute path outside the run's directory. Its value says what it saw:
//
//	bit 0      mmap of 10 GiB refused (the first thing it does after
//	           reading its RLIMIT_AS)
//	bit 1      RLIMIT_AS was already limited at its first instruction
//	bit 2      a child's setsid succeeded (it left the process group)
//	bit 3      chroot("esc") succeeded (a chroot escape was possible)
//	bit 4      the file at ESCAPE was created and written
//	bits 8-15  the number of children forked (50 wanted)
//
// Every child (and the setsid child's own child) sleeps forever.

#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_mmap 9
#define SYS_pipe 22
#define SYS_nanosleep 35
#define SYS_fork 57
#define SYS_chdir 80
#define SYS_mkdir 83
#define SYS_setsid 112
#define SYS_chroot 161
#define SYS_exit_group 231
#define SYS_prlimit64 302

#define RLIMIT_AS 9

#include "sys.h"

static void sleep_forever(void) {
	long ts[2] = {1000, 0};
	for (;;)
		sys3(SYS_nanosleep, (long)ts, 0, 0);
}

// The kernel enters with a 16-byte aligned stack and no return address.
__attribute__((force_align_arg_pointer)) void _start(void) {
	unsigned long v = 0;
	unsigned long lim[2] = {0, 0};
	if (sys6(SYS_prlimit64, 0, RLIMIT_AS, 0, (long)lim, 0, 0) == 0 && lim[0] != ~0UL)
		v |= 2;
	long m = sys6(SYS_mmap, 0, 10L << 30, 3 /* RW */, 0x22 | 0x4000 /* PRIVATE|ANONYMOUS|NORESERVE */, -1, 0);
	if (m < 0 && m > -4096)
		v |= 1;

	int p[2];
	sys3(SYS_pipe, (long)p, 0, 0);
	long forks = 0;
	for (int i = 0; i < 50; i++) {
		long pid = sys3(SYS_fork, 0, 0, 0);
		if (pid == 0) {
			char c = 'c';
			if (i == 0) {
				if (sys3(SYS_setsid, 0, 0, 0) > 0)
					c = 's';
				if (sys3(SYS_fork, 0, 0, 0) == 0)
					sleep_forever();
			}
			sys3(SYS_write, p[1], (long)&c, 1);
			sleep_forever();
		}
		if (pid > 0)
			forks++;
	}
	for (long i = 0; i < forks; i++) {
		char c = 0;
		if (sys3(SYS_read, p[0], (long)&c, 1) == 1 && c == 's')
			v |= 4;
	}
	v |= (unsigned long)forks << 8;

	sys3(SYS_mkdir, (long)"esc", 0755, 0);
	if (sys3(SYS_chroot, (long)"esc", 0, 0) == 0) {
		v |= 8;
		for (int i = 0; i < 64; i++)
			sys3(SYS_chdir, (long)"..", 0, 0);
		sys3(SYS_chroot, (long)".", 0, 0);
	}
	long fd = sys3(SYS_open, (long)ESCAPE, 01 | 0100 | 01000 /* WRONLY|CREAT|TRUNC */, 0644);
	if (fd >= 0 && sys3(SYS_write, fd, (long)"escaped\n", 8) == 8)
		v |= 16;

	sys3(SYS_write, 1, (long)&v, 8);
	sys3(SYS_exit_group, 0, 0, 0);
	for (;;)
		;
}
