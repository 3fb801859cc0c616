	.text
	.globl value
	.type value,@function
value:
	mov $42, %eax
	ret
