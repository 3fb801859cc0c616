# COMDAT groups: both objects define the group "inl" (code and data); the first object's copy is kept, the second's discarded with its relocations; exits 42.
	.globl _start
	.text
_start:
	call inl
	movq %rax, %rdi
	call other
	addq %rax, %rdi
	movl $60, %eax
	syscall
	.section .text.inl,"axG",@progbits,inl,comdat
	.globl inl
	.type inl, @function
inl:	movq inl_data(%rip), %rax
	ret
	.section .data.inl,"awG",@progbits,inl,comdat
	.globl inl_data
inl_data:	.quad 40
