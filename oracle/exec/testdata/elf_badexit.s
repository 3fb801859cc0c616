# Writes 8 bytes and exits with status 3: must be an error.
	.intel_syntax noprefix
	.text
	.globl _start
_start:
	push 42
	mov eax, 1
	mov edi, 1
	mov rsi, rsp
	mov edx, 8
	syscall
	mov eax, 60
	mov edi, 3
	syscall
