# Calls across objects and to a local function; exits with 42.
	.text
	.globl _start
	.type _start,@function
_start:
	mov $20, %edi
	call twice              # R_X86_64_PLT32 to lib.s
	mov %eax, %edi
	call plus2              # R_X86_64_PLT32 to a local function
	mov %eax, %edi
	mov $60, %eax
	syscall
	ud2

	.type plus2,@function
plus2:
	lea 2(%rdi), %eax
	ret
