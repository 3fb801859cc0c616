# An indirect function's address taken (R_X86_64_PC32, not a call): ld.lld makes its PLT entry canonical; refused as not supported.
	.globl _start
	.text
_start:
	leaq f(%rip), %rax
	ret
	.type f, @gnu_indirect_function
f:	ret
