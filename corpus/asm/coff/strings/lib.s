	.intel_syntax noprefix
	.text
	.globl sum
	.p2align 4
sum:
	xor eax, eax
1:
	movzx edx, byte ptr [rcx]
	test edx, edx
	je 2f
	add eax, edx
	inc rcx
	jmp 1b
2:
	ret

	.section .rdata,"dr"
	.globl world
world:
	.asciz "world!!"
