	.section __TEXT,__text,regular,pure_instructions
	.p2align 4
_plus1:
	leaq 1(%rdi), %rax
	retq
	.p2align 4
_double:
	leaq (%rdi,%rdi), %rax
	retq
	.p2align 4
_plus3:
	leaq 3(%rdi), %rax
	retq

	.section __DATA,__const
	.globl _table
	.p2align 3
_table:
	.quad _plus1
	.quad _double
	.quad _plus3
.subsections_via_symbols
