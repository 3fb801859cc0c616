# _GLOBAL_OFFSET_TABLE_ (ld.lld writes a .got.plt for it): refused as not supported.
	.globl _start
	.text
_start:
	leaq _GLOBAL_OFFSET_TABLE_(%rip), %rax
	ret
