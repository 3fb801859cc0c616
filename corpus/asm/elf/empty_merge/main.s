# A label in an empty SHF_MERGE|SHF_STRINGS section (its address is where the merged strings start); exits 42.
	.globl _start
	.text
_start:
	leaq s(%rip), %rax
	movl $60, %eax
	movl $42, %edi
	syscall
	.section .rodata.str1.1,"aMS",@progbits,1
s:
