# SHF_MERGE|SHF_STRINGS strings shared by two objects; exits with strlen("linker")*7 = 42 if both point at the same string.
	.text
	.globl _start
	.type _start,@function
_start:
	lea .Lmine(%rip), %rsi
	call other_string
	xor %edi, %edi
	cmp %rax, %rsi                    # deduplicated: the same address
	jne 2f
	xor %ecx, %ecx
1:	cmpb $0, (%rsi,%rcx)
	je 3f
	inc %rcx
	jmp 1b
3:	imul $7, %ecx, %edi
2:	mov $60, %eax
	syscall
	.section .rodata.str1.1,"aMS",@progbits,1
	.asciz "hello"
.Lmine:
	.asciz "linker"
