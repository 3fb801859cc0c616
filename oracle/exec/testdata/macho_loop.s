# Never finishes.
	.intel_syntax noprefix
	.text
	.globl __start
__start:
	jmp __start
