# Writes 4 bytes instead of 8: must be an error.
	.intel_syntax noprefix
	.text
	.globl _start
_start:
	push 42
	mov eax, 1
	mov edi, 1
	mov rsi, rsp
	mov edx, 4
	syscall
	mov eax, 60
	xor edi, edi
	syscall
