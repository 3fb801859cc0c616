# _start in an empty .text: ld.lld keeps the empty section and its label (not a program: no code).
	.globl _start
	.text
_start:
	.data
d:
	.quad 1
