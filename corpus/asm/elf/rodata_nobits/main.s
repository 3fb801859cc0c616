# A read-only SHT_NOBITS section: zeros in the read-only segment after .rodata, before the code, as ld.lld places it; reads them and exits 42.
	.globl _start
	.text
_start:
	movq zeros+8(%rip), %rdi
	addq $42, %rdi
	movl $60, %eax
	syscall
	.section .rodata,"a"
	.quad 1
	.section .zeros,"a",@nobits
zeros:	.zero 16
