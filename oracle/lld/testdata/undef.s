# References a symbol that no object defines: every linker must refuse.
	.intel_syntax noprefix
	.text
	.globl _start
	.globl __start
_start:
__start:
	call missing_function
	call _missing_function
	ret
