# Mach-O: the LC_MAIN entry returns instead of calling exit: must be an error.
	.intel_syntax noprefix
	.text
	.globl __start
__start:
	mov eax, 42
	ret
