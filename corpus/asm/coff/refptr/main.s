# Loads through .refptr COMDAT cells as mingw writes them (one cell per symbol, shared by both objects) and a static cell of a local; expect: 1042
	.intel_syntax noprefix
	.text
	.globl _start
	.p2align 4
_start:
	mov rax, qword ptr [rip + .refptr.counter]
	mov rax, qword ptr [rax]
	mov rcx, qword ptr [rip + .refptr.bump]
	sub rsp, 40
	call rcx
	add rsp, 40
	mov rcx, qword ptr [rip + .refptr.local_k]
	add rax, qword ptr [rcx]
	ret

	.section .rdata,"dr"
	.p2align 3
local_k:
	.quad 1000

	.section .rdata$.refptr.counter,"dr",discard,.refptr.counter
	.p2align 3
	.globl .refptr.counter
.refptr.counter:
	.quad counter

	.section .rdata$.refptr.bump,"dr",discard,.refptr.bump
	.p2align 3
	.globl .refptr.bump
.refptr.bump:
	.quad bump

	.section .rdata$.refptr.local_k,"dr"
	.p2align 3
.refptr.local_k:
	.quad local_k
