	.section __TEXT,__text,regular,pure_instructions
	.globl _add3
	.p2align 4
_add3:
	callq _inc
	movq %rax, %rdi
	callq _inc
	movq %rax, %rdi
	jmp _inc

	.globl _twice
	.p2align 4
_twice:
	leaq (%rdi,%rdi), %rax
	addq $10, %rax
	retq
.subsections_via_symbols
