# Common symbols: c is common in both objects (the larger, 32 bytes, is allocated at the larger alignment, 16), d is common here and defined in lib.s (the definition wins), e is common only here; all in .bss after the input .bss; exits 42.
	.globl _start
	.comm c, 8, 4
	.comm d, 8, 8
	.comm e, 4, 4
	.text
_start:
	movq $40, c+24(%rip)
	movq c+24(%rip), %rdi
	addq d(%rip), %rdi
	movl $60, %eax
	syscall
	.bss
	.zero 3
