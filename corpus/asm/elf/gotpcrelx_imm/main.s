# R_X86_64_REX_GOTPCRELX in test and binop instructions, relaxed to immediates as ld.lld does in a non-PIC link (a GOTPCRELX without REX keeps its slot); exits 0.
	.globl _start
	.text
_start:
	cmpq x@GOTPCREL(%rip), %rbx
	testq %r9, x@GOTPCREL(%rip)
	addq x@GOTPCREL(%rip), %r10
	subq x@GOTPCREL(%rip), %rax
	xorq x@GOTPCREL(%rip), %rcx
	andq x@GOTPCREL(%rip), %r12
	orq x@GOTPCREL(%rip), %rsp
	adcq x@GOTPCREL(%rip), %rdx
	sbbq x@GOTPCREL(%rip), %r15
	cmpl x@GOTPCREL(%rip), %eax
	movl $60, %eax
	xorl %edi, %edi
	syscall
	.data
x:	.quad 42
