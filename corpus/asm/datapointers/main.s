# Function pointers in .data (R_X86_64_64) and a GOTPCREL load that keeps its GOT slot; exits with 1+2+3+36=42.
	.text
	.globl _start
	.type _start,@function
_start:
	xor %ebx, %ebx
	lea table(%rip), %r12              # R_X86_64_PC32
	xor %r13d, %r13d
1:	call *(%r12,%r13,8)
	add %rax, %rbx
	inc %r13
	cmp $3, %r13
	jne 1b
	.globl thirtysix                    # makes llvm-mc emit the symbol for .reloc
	.reloc .+3, R_X86_64_GOTPCREL, thirtysix-4
	movq 0(%rip), %rax                 # a load through a kept GOT slot
	add (%rax), %rbx
	mov %rbx, %rdi
	mov $60, %eax
	syscall
	.section .data.rel,"aw",@progbits
	.p2align 3
table:
	.quad one
	.quad two
	.quad three
