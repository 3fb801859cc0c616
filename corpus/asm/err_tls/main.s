# Thread-local storage: refused by the reader.
	.text
	.globl _start
_start:
	ret
	.section .tdata,"awT",@progbits
	.globl tv
	.type tv,@object
tv:	.quad 1
