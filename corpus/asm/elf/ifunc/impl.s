# The indirect functions: each symbol is its resolver, which returns the implementation's address.
	.text
	.globl forty, two
	.type forty, @gnu_indirect_function
	.type two, @gnu_indirect_function
forty:	leaq forty_impl(%rip), %rax
	ret
two:	leaq two_impl(%rip), %rax
	ret
forty_impl:
	movl $40, %eax
	ret
two_impl:
	movl $2, %eax
	ret
