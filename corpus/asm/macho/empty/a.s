# Empty sections, which ld64.lld keeps with their headers: an empty
# __TEXT,__const with a label in it, an empty __DATA,__data that opens an
# empty __DATA segment. main returns 7.
# expect: 7
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
	movl $7, %eax
	retq

	.section __TEXT,__const
_nothing:
	.section __DATA,__data
.subsections_via_symbols
