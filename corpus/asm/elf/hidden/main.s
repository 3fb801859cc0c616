# Hidden and internal globals become locals, protected stays global, st_other keeps the visibility; exits 42.
	.globl _start
	.text
_start:
	call h
	call p
	call i
	movl $60, %eax
	movl $42, %edi
	syscall
