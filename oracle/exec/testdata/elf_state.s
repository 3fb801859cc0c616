# Reads state a previous run on the same emulator may have left behind (a
# word of .data and one of .bss, a stack word below rsp, rbx, xmm0, the direction flag) and
# changes all of it; every run must write the same value, CODE*2^32 + 0:
# a fresh process sees zeros. CODE (an assembler symbol, default 7) and PAD
# (bytes of code before _start, default 0) vary the code and the layout.
	.intel_syntax noprefix
	.ifndef CODE
	.set CODE, 7
	.endif
	.ifndef PAD
	.set PAD, 0
	.endif
	.text
	.space PAD, 0x90
	.globl _start
_start:
	mov rax, qword ptr [rip + counter]
	add rax, qword ptr [rip + scratch]
	add rax, qword ptr [rsp - 64]
	add rax, rbx
	movq rcx, xmm0
	add rax, rcx
	pushfq
	pop rcx
	and ecx, 0x400
	add rax, rcx
	mov ecx, CODE
	shl rcx, 32
	add rax, rcx
	inc qword ptr [rip + counter]
	inc qword ptr [rip + scratch]
	inc qword ptr [rsp - 64]
	mov ebx, 1
	movq xmm0, rbx
	std
	push rax
	mov eax, 1
	mov edi, 1
	mov rsi, rsp
	mov edx, 8
	syscall
	mov eax, 231
	xor edi, edi
	syscall
	ud2

	.data
counter:
	.quad 0

	.bss
scratch:
	.quad 0
