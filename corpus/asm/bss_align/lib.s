	.text
	.p2align 6
	.globl aligned64
	.type aligned64,@function
aligned64:
	ret
	.section .text.page,"ax",@progbits
	.p2align 12
	.globl aligned4096
	.type aligned4096,@function
aligned4096:
	ret
	.section .bss.big,"aw",@nobits
	.globl big
	.p2align 4
big:	.zero 64
