# Relocations R_X86_64_8, 16, PC8, PC16, PC64, SIZE32 and SIZE64 against another object's symbols, each checked at run time; exits 42.
	.globl _start
	.text
_start:
	movzbl b8(%rip), %eax		# R_X86_64_8: small = 20
	cmpl $20, %eax
	movl $1, %edi
	jne exit
	movzwl w16(%rip), %eax		# R_X86_64_16: medium = 0x1234
	cmpl $0x1234, %eax
	movl $2, %edi
	jne exit
	leaq near(%rip), %rsi
	movsbq p8(%rip), %rax		# R_X86_64_PC8: near - p8
	leaq p8(%rip), %rcx
	addq %rcx, %rax
	cmpq %rsi, %rax
	movl $3, %edi
	jne exit
	movswq p16(%rip), %rax		# R_X86_64_PC16: near - p16
	leaq p16(%rip), %rcx
	addq %rcx, %rax
	cmpq %rsi, %rax
	movl $4, %edi
	jne exit
	movq p64(%rip), %rax		# R_X86_64_PC64: near - p64
	leaq p64(%rip), %rcx
	addq %rcx, %rax
	cmpq %rsi, %rax
	movl $5, %edi
	jne exit
	movl $obj@SIZE, %eax		# R_X86_64_SIZE32: 24
	cmpl $24, %eax
	movl $6, %edi
	jne exit
	movabsq $obj@SIZE+1, %rax	# R_X86_64_SIZE64: 25
	cmpq $25, %rax
	movl $7, %edi
	jne exit
	movl $42, %edi
exit:	movl $60, %eax
	syscall

	.data
b8:	.byte small
w16:	.word medium
p8:	.byte near - .
p16:	.word near - .
	.p2align 3
p64:	.quad near - .
