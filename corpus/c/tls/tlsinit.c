/* tlsinit.c: the thread pointer set up as a libc does it for a static
 * executable: the PT_TLS image copied below it (variant II), its first
 * word pointing to itself, %fs set by arch_prctl. */
extern const unsigned char __ehdr_start[];
static unsigned char area[8192] __attribute__((aligned(64)));

void tls_setup(void) {
	const unsigned char *eh = __ehdr_start;
	unsigned long phoff = *(const unsigned long *)(eh + 32);
	unsigned phnum = *(const unsigned short *)(eh + 56);
	for (unsigned i = 0; i < phnum; i++) {
		const unsigned char *ph = eh + phoff + 56 * i;
		if (*(const unsigned *)ph != 7) /* PT_TLS */
			continue;
		unsigned long vaddr = *(const unsigned long *)(ph + 16);
		unsigned long filesz = *(const unsigned long *)(ph + 32);
		unsigned long memsz = *(const unsigned long *)(ph + 40);
		unsigned long align = *(const unsigned long *)(ph + 48);
		unsigned char *tp = area + sizeof area - 64;
		unsigned long off = ((vaddr + memsz + align - 1) & -align) - vaddr;
		unsigned char *dst = tp - off;
		const unsigned char *src = (const unsigned char *)vaddr;
		__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(filesz) : : "memory");
		*(unsigned char **)tp = tp;
		long ret;
		__asm__ volatile("syscall" : "=a"(ret) : "a"(158), "D"(0x1002), "S"(tp) : "rcx", "r11", "memory");
		return;
	}
}
