// leftover.c: a program that looks for what an earlier run in the same
// jail left, then leaves as much as it can for the next one. Built
// freestanding (no libc) by TestJailStartsEmpty. Its value says what it
// saw and did:
//
//	bit 0  /left existed
//	bit 1  /d/f existed
//	bit 2  the root directory's mode was not 0755 (drwxr-xr-x)
//	bit 3  the root directory held an entry other than . .. and prog
//	bit 4  the root directory had the extended attribute user.left
//	bit 8  it created /left
//	bit 9  it created /d/f
//	bit 10 it changed the root directory's mode to 0777
//	bit 11 it set user.left on the root directory
//	bits 32-63 the size of /prog, its executable

#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_stat 4
#define SYS_mkdir 83
#define SYS_symlink 88
#define SYS_chmod 90
#define SYS_setxattr 188
#define SYS_getxattr 191
#define SYS_getdents64 217
#define SYS_exit_group 231

#define O_RDONLY 0
#define O_WRONLY 1
#define O_CREAT 0100
#define O_EXCL 0200
#define O_DIRECTORY 0200000

#include "sys.h"

static int is(const char *a, const char *b) {
	for (; *a && *a == *b; a++, b++)
		;
	return *a == *b;
}

// The kernel enters with a 16-byte aligned stack and no return address.
__attribute__((force_align_arg_pointer)) void _start(void) {
	unsigned long v = 0;
	long fd = sys3(SYS_open, (long)"/left", O_RDONLY, 0);
	if (fd >= 0) {
		v |= 1;
		sys3(SYS_close, fd, 0, 0);
	}
	fd = sys3(SYS_open, (long)"/d/f", O_RDONLY, 0);
	if (fd >= 0) {
		v |= 2;
		sys3(SYS_close, fd, 0, 0);
	}
	unsigned long st[18];
	if (sys3(SYS_stat, (long)"/", (long)st, 0) == 0 && (unsigned)(st[3] & 0xffffffff) != 040755)
		v |= 4; // st_mode is the 32 bits at offset 24
	fd = sys3(SYS_open, (long)"/", O_RDONLY | O_DIRECTORY, 0);
	if (fd >= 0) {
		char buf[4096] __attribute__((aligned(8)));
		long n;
		while ((n = sys3(SYS_getdents64, fd, (long)buf, sizeof buf)) > 0) {
			for (long off = 0; off < n;) {
				unsigned short reclen = *(unsigned short *)(buf + off + 16);
				const char *name = buf + off + 19;
				if (!is(name, ".") && !is(name, "..") && !is(name, "prog"))
					v |= 8;
				off += reclen;
			}
		}
		sys3(SYS_close, fd, 0, 0);
	}
	char val[8];
	if (sys6(SYS_getxattr, (long)"/", (long)"user.left", (long)val, sizeof val, 0, 0) >= 0)
		v |= 16;

	fd = sys3(SYS_open, (long)"/left", O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd >= 0) {
		v |= 1 << 8;
		sys3(SYS_write, fd, (long)"left", 4);
		sys3(SYS_close, fd, 0, 0);
	}
	if (sys3(SYS_mkdir, (long)"/d", 0700, 0) == 0) {
		fd = sys3(SYS_open, (long)"/d/f", O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd >= 0) {
			v |= 1 << 9;
			sys3(SYS_close, fd, 0, 0);
		}
	}
	sys3(SYS_symlink, (long)"/etc/passwd", (long)"/s", 0);
	if (sys3(SYS_chmod, (long)"/", 0777, 0) == 0)
		v |= 1 << 10;
	if (sys6(SYS_setxattr, (long)"/", (long)"user.left", (long)"1", 1, 0, 0) == 0)
		v |= 1 << 11;
	if (sys3(SYS_stat, (long)"/prog", (long)st, 0) == 0)
		v |= st[6] << 32; // st_size is the 8 bytes at offset 48
	sys3(SYS_write, 1, (long)&v, 8);
	sys3(SYS_exit_group, 0, 0, 0);
	for (;;)
		;
}
