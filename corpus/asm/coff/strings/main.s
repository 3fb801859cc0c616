# Read-only strings in .rdata of two objects, summed byte by byte through RIP-relative addresses and a pointer table; expect: 1150
	.intel_syntax noprefix
	.text
	.globl _start
	.p2align 4
_start:
	push rbx
	sub rsp, 32
	lea rcx, [rip + hello]
	call sum
	mov ebx, eax
	mov rcx, qword ptr [rip + names + 8]
	call sum
	add eax, ebx
	add rsp, 32
	pop rbx
	ret

	.section .rdata,"dr"
hello:
	.asciz "hello"
	.p2align 3
names:
	.quad hello
	.quad world
