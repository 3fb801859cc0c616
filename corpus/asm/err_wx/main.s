# A writable executable section (SHF_WRITE|SHF_EXECINSTR): refused by the reader as not supported.
	.section .wx,"awx",@progbits
	.globl _start
_start:
	ret
