	.text
	.globl other
other:	call inl
	subq $38, %rax
	ret
	.section .text.inl,"axG",@progbits,inl,comdat
	.globl inl
	.type inl, @function
inl:	movq inl_data(%rip), %rax
	addq $1000, %rax
	ret
	.section .data.inl,"awG",@progbits,inl,comdat
	.globl inl_data
inl_data:	.quad 1000
