# _GLOBAL_OFFSET_TABLE_ and the GOT-relative relocations GOTPC32, GOTPC64 and GOTOFF64: ld.lld writes .got.plt (24 zero bytes after .data) as the GOT base; x read through its GOT offset; exits 42.
	.globl _start
	.text
_start:
	leaq _GLOBAL_OFFSET_TABLE_(%rip), %rbx	# R_X86_64_GOTPC32
1:	movabsq $_GLOBAL_OFFSET_TABLE_-1b, %rdx	# R_X86_64_GOTPC64
	leaq 1b(%rip), %rax
	addq %rdx, %rax
	cmpq %rbx, %rax
	movl $1, %edi
	jne 2f
	movabsq $x@GOTOFF, %rcx			# R_X86_64_GOTOFF64
	movl (%rbx,%rcx), %edi
2:	movl $60, %eax
	syscall
	.data
	.quad 5
x:	.long 42
