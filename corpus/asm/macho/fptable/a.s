# A function-pointer table in __DATA,__const (__DATA_CONST in the
# executable, rebased), indexed from main: table[1](10) + table[2](10) +
# table[0](10) = 20 + 13 + 11, then a pointer in __DATA to the table's end.
# expect: 44
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
	pushq %r12
	pushq %r13
	leaq _table(%rip), %rbx
	xorl %r12d, %r12d
	movl $10, %edi
	callq *8(%rbx)
	addq %rax, %r12
	movl $10, %edi
	callq *16(%rbx)
	addq %rax, %r12
	movq _lastp(%rip), %r13
	movl $10, %edi
	callq *(%r13)
	addq %r12, %rax
	popq %r13
	popq %r12
	popq %rbx
	retq

	.section __DATA,__data
	.p2align 3
_lastp:
	.quad _table
.subsections_via_symbols
