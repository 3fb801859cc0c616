# Two global definitions of f.
	.text
	.globl _start, f
_start:
	call f
f:	ret
