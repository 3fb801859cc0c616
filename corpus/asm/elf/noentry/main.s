# No _start: ld.lld warns "cannot find entry symbol _start; not setting start address" and the entry is 0 (not a program).
	.text
	.globl f
f:	ret
