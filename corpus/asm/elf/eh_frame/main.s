# .eh_frame (issue 18): FDEs for several functions, one CIE shared by all
# of main.o's and other.o's plain functions (deduplicated across objects),
# a second CIE with a personality routine, and an FDE for an inline
# function in a COMDAT group that other.o also defines (other.o's copy
# and its FDE are discarded). Exit status 42.
	.text
	.globl _start
	.type _start, @function
_start:
	.cfi_startproc
	subq $8, %rsp
	.cfi_def_cfa_offset 16
	call twenty
	movl %eax, %ebx
	call inl
	addl %eax, %ebx
	call other
	addl %eax, %ebx
	addq $8, %rsp
	.cfi_def_cfa_offset 8
	movl %ebx, %edi
	movl $60, %eax
	syscall
	.cfi_endproc
	.size _start, .-_start

	.section .text.twenty,"ax",@progbits
	.type twenty, @function
twenty:
	.cfi_startproc
	pushq %rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	movq %rsp, %rbp
	.cfi_def_cfa_register %rbp
	movl $20, %eax
	popq %rbp
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_endproc
	.size twenty, .-twenty

	.section .text.inl,"axG",@progbits,inl,comdat
	.weak inl
	.type inl, @function
inl:
	.cfi_startproc
	movl $2, %eax
	ret
	.cfi_endproc
	.size inl, .-inl

	.section .text.pers,"ax",@progbits
	.globl with_personality
	.type with_personality, @function
with_personality:
	.cfi_startproc
	.cfi_personality 0x3, personality
	.cfi_lsda 0x3, lsda
	xorl %eax, %eax
	ret
	.cfi_endproc
	.size with_personality, .-with_personality

	.globl personality
	.type personality, @function
personality:
	.cfi_startproc
	xorl %eax, %eax
	ret
	.cfi_endproc
	.size personality, .-personality

	.section .rodata.lsda,"a",@progbits
	.type lsda, @object
lsda:
	.byte 0xff, 0xff, 0x01, 0x00
	.size lsda, 4
