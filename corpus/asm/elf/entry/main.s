# Linked with -e begin (the entry is not _start); exits 42.
	.globl begin, _start
	.text
_start:
	movl $60, %eax
	movl $1, %edi
	syscall
begin:
	movl $60, %eax
	movl $42, %edi
	syscall
