# C strings in __TEXT,__cstring in both objects, deduplicated across them
# by both linkers: main sums the first bytes of "hello" (104) and "world"
# (119) from a.o and of b.o's "world" and "linker" (108), plus
# strlen("linker") = 6 from b.o.
# expect: 456
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
	leaq L_.hello(%rip), %rax
	movzbl (%rax), %eax
	leaq L_.world(%rip), %rcx
	movzbl (%rcx), %ecx
	addq %rcx, %rax
	pushq %rax
	callq _fromb
	popq %rcx
	addq %rcx, %rax
	retq

	.section __TEXT,__cstring,cstring_literals
L_.hello:
	.asciz "hello"
L_.world:
	.asciz "world"
.subsections_via_symbols
