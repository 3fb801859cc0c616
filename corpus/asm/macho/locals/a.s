# Local (non-external) functions and data that shadow nothing: helper and
# lcount are a.o's own; main calls helper, which reads and bumps lcount
# (in __bss, zero) and the local constant k (7): (0+7) + (1+7) = 15, plus
# b.o's global g (100) read through a pointer.
# expect: 115
	.section __TEXT,__text,regular,pure_instructions
	.globl __start
	.p2align 4
# The entry: main's value, 8 bytes on stdout, then exit(0) (Darwin
# syscalls), as linkcheck's code generator writes it.
__start:
	callq _main
	pushq %rax
	movl $0x2000004, %eax
	movl $1, %edi
	movq %rsp, %rsi
	movl $8, %edx
	syscall
	movl $0x2000001, %eax
	xorl %edi, %edi
	syscall
	ud2

	.globl _main
	.p2align 4
_main:
	pushq %rbx
	callq _helper
	movq %rax, %rbx
	callq _helper
	addq %rbx, %rax
	movq _gp(%rip), %rcx
	addq (%rcx), %rax
	popq %rbx
	retq

	.p2align 4
_helper:
	movq _lcount(%rip), %rax
	leaq 1(%rax), %rcx
	movq %rcx, _lcount(%rip)
	addq _k(%rip), %rax
	retq

	.section __TEXT,__const
	.p2align 3
_k:
	.quad 7

	.section __DATA,__data
	.p2align 3
_gp:
	.quad _g
	.zerofill __DATA,__bss,_lcount,8,3
.subsections_via_symbols
