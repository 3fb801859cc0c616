	.section .text.f,"ax",@progbits
	nop
	.globl f
f:	ret
