# A non-empty writable executable SHT_NOBITS section: refused by the reader
# as not supported (a read-only one is linked as ld.lld does:
# corpus/asm/elf/exec_nobits).
	.text
	.globl _start
_start:
	ret
	.section .xb,"awx",@nobits
	.zero 16
