	.intel_syntax noprefix
	.text
	.globl bump
	.p2align 4
bump:
	mov rdx, qword ptr [rip + .refptr.counter]
	add qword ptr [rdx], 2
	mov rax, qword ptr [rdx]
	ret

	.data
	.globl counter
	.p2align 3
counter:
	.quad 40

	.section .rdata$.refptr.counter,"dr",discard,.refptr.counter
	.p2align 3
	.globl .refptr.counter
.refptr.counter:
	.quad counter
