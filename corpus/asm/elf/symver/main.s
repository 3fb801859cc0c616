# Symbol versions in names without a version script: foo@@V2 (the default version) resolves references to foo and is written as foo, as ld.lld does; exits 42.
	.globl _start
	.text
_start:
	call foo
	call bar
	movl $60, %eax
	syscall
