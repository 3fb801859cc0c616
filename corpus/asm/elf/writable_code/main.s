# Code in a writable executable section ("awx"): its own read-write-execute segment after the code, as ld.lld places it; f stores into its section and returns what it stored; exits 42.
	.globl _start
	.text
_start:
	call f
	movl %eax, %edi
	movl $60, %eax
	syscall
	.section .wx,"awx",@progbits
f:	movl $42, cell(%rip)
	movl cell(%rip), %eax
	ret
cell:	.long 0
