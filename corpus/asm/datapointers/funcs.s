	.text
	.globl one, two, three
	.type one,@function
one:	mov $1, %eax
	ret
	.type two,@function
two:	mov $2, %eax
	ret
	.type three,@function
three:	mov $3, %eax
	ret
	.section .rodata.k,"a",@progbits
	.globl thirtysix
	.p2align 3
thirtysix:
	.quad 36
