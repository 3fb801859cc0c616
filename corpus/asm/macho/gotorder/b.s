	.section __TEXT,__text,regular,pure_instructions
	.globl _two
	.private_extern _two
	.p2align 4
_two:
	movl $2, %eax
	retq

	.globl _three
	.p2align 4
_three:
	movl $3, %eax
	retq

	.section __DATA,__data
	.globl _hcount
	.private_extern _hcount
	.p2align 3
_hcount:
	.quad 4
.subsections_via_symbols
