	.section .text.twice,"ax",@progbits
	.globl twice
	.type twice,@function
twice:
	call helper
	ret
	.section .text.helper,"ax",@progbits
	.type helper,@function
helper:                         # local, same name as nothing else
	lea (%rdi,%rdi), %eax
	ret
