# .bss in two objects, over-aligned functions and data; exits with 42 when all alignments hold.
	.text
	.globl _start
	.type _start,@function
_start:
	lea aligned64(%rip), %rax
	test $63, %al
	jnz bad
	lea aligned4096(%rip), %rax
	test $0xfff, %eax
	jnz bad
	lea buf(%rip), %rax
	test $0xff, %al
	jnz bad
	movq $40, (%rax)
	movq $2, big+8(%rip)
	mov (%rax), %rdi
	add big+8(%rip), %rdi
	call aligned64
	mov $60, %eax
	syscall
bad:	mov $1, %edi
	mov $60, %eax
	syscall
	.bss
	.globl buf
	.p2align 8
buf:	.zero 16
