	.section __TEXT,__text,regular,pure_instructions
	.globl _bump
	.p2align 4
_bump:
	movq _counter@GOTPCREL(%rip), %rax
	addq $2, (%rax)
	retq

	.globl _seven
	.p2align 4
_seven:
	movl $7, %eax
	retq

	.globl _call_seven
	.p2align 4
_call_seven:
	jmpq *_seven@GOTPCREL(%rip)

	.section __DATA,__data
	.globl _counter
	.p2align 3
_counter:
	.quad 40
	.globl _unused
	.p2align 3
_unused:
	.quad 0
.subsections_via_symbols
