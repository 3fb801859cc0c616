# An R_X86_64_32 field that cannot hold its value.
	.text
	.globl _start
_start:
	movl $target+0xffffffff, %eax
	ret
	.data
	.globl target
target:	.quad 0
