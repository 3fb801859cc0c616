# PE: returns 42 (fits in an exit code, so wine sees all of it).
	.intel_syntax noprefix
	.text
	.globl _start
_start:
	mov eax, 42
	ret
