# Cross-object calls: main (a.o) calls add3 and twice (b.o), which call
# back into a.o's inc.
# expect: 27
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
	movl $5, %edi
	callq _add3
	movq %rax, %rdi
	callq _twice
	movq %rax, %rdi
	callq _inc
	retq

	.globl _inc
	.p2align 4
_inc:
	leaq 1(%rdi), %rax
	retq
.subsections_via_symbols
