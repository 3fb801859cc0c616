# The second object of eh_frame: the same CIE as main.o's plain
# functions (deduplicated), its own FDEs, and a second copy of the COMDAT
# inline function inl whose FDE is dropped with the discarded group.
	.text
	.globl other
	.type other, @function
other:
	.cfi_startproc
	pushq %rbx
	.cfi_def_cfa_offset 16
	.cfi_offset %rbx, -16
	call helper
	popq %rbx
	.cfi_def_cfa_offset 8
	ret
	.cfi_endproc
	.size other, .-other

	.type helper, @function
helper:
	.cfi_startproc
	movl $20, %eax
	ret
	.cfi_endproc
	.size helper, .-helper

	.section .text.inl,"axG",@progbits,inl,comdat
	.weak inl
	.type inl, @function
inl:
	.cfi_startproc
	nop
	movl $2, %eax
	ret
	.cfi_endproc
	.size inl, .-inl
