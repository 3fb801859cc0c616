	.section __TEXT,__text,regular,pure_instructions
	.globl _fromb
	.p2align 4
_fromb:
	leaq L_.w(%rip), %rax
	movzbl (%rax), %eax
	leaq L_.l(%rip), %rdi
	movzbl (%rdi), %ecx
	addq %rcx, %rax
	xorl %ecx, %ecx
1:
	cmpb $0, (%rdi,%rcx)
	je 2f
	incq %rcx
	jmp 1b
2:
	addq %rcx, %rax
	retq

	.section __TEXT,__cstring,cstring_literals
L_.l:
	.asciz "linker"
L_.w:
	.asciz "world"
.subsections_via_symbols
