# A weak definition yields to a global one in a later object, and an undefined weak reference resolves to 0; exits with 42.
	.text
	.globl _start
	.type _start,@function
_start:
	call value
	mov %eax, %edi
	lea missing(%rip), %rax
	test %rax, %rax
	jz 1f
	xor %edi, %edi
1:	mov $60, %eax
	syscall
	.weak value
	.type value,@function
value:
	mov $1, %eax
	ret
	.weak missing
