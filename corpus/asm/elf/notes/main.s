# Allocated notes: SHT_NOTE sections first among read-only data, one PT_NOTE per run of contiguous notes of one alignment (.note.a and .note.b 4-aligned, .note.c 8-aligned); exits 42.
	.globl _start
	.text
_start:
	movl $60, %eax
	movl $42, %edi
	syscall
	.section .rodata,"a"
	.quad 7
	.section .note.a,"a",@note
	.p2align 2
	.long 4, 4, 1
	.asciz "abc"
	.long 0
	.section .note.b,"a",@note
	.p2align 2
	.long 4, 0, 2
	.asciz "xyz"
	.section .note.c,"a",@note
	.p2align 3
	.long 4, 0, 0x999
	.asciz "xyz"
