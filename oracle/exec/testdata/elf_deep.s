# Recurses 200,000 frames of 256 bytes (51 MB of stack), then writes the
# depth: proves that the stack holds far more than 10,000 frames.
	.intel_syntax noprefix
	.text
	.globl _start
_start:
	mov edi, 200000
	call down
	push rax
	mov eax, 1
	mov edi, 1
	mov rsi, rsp
	mov edx, 8
	syscall
	mov eax, 60
	xor edi, edi
	syscall
	ud2
down:                           # rax = rdi == 0 ? 0 : 1 + down(rdi - 1)
	sub rsp, 248
	mov qword ptr [rsp], rdi
	xor eax, eax
	test rdi, rdi
	jz 1f
	dec rdi
	call down
	inc rax
1:	add rsp, 248
	ret
