# A non-empty executable SHT_NOBITS section: refused by the reader as not supported.
	.text
	.globl _start
_start:
	ret
	.section .xb,"ax",@nobits
	.zero 16
