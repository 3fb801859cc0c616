# Never finishes.
	.intel_syntax noprefix
	.text
	.globl _start
_start:
	jmp _start
