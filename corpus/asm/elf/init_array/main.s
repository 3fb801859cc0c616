# .preinit_array, .init_array (with priorities: .init_array.N sorted by N) and .fini_array; _start runs them in order as a libc would and exits with the accumulated value, 42.
	.globl _start
	.text
_start:
	leaq __preinit_array_start(%rip), %rbx
	leaq __preinit_array_end(%rip), %r12
	call run
	leaq __init_array_start(%rip), %rbx
	leaq __init_array_end(%rip), %r12
	call run
	leaq __fini_array_start(%rip), %rbx
	leaq __fini_array_end(%rip), %r12
	call run
	movq acc(%rip), %rdi
	movl $60, %eax
	syscall
run:	cmpq %r12, %rbx
	jae 1f
	call *(%rbx)
	addq $8, %rbx
	jmp run
1:	ret
