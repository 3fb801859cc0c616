	.text
	.globl other_string
	.type other_string,@function
other_string:
	lea .Ltheirs(%rip), %rax
	ret
	.section .rodata.str1.1,"aMS",@progbits,1
	.asciz "unused"
.Ltheirs:
	.asciz "linker"
	.asciz "hello"
