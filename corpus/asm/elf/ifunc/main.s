# Indirect functions (STT_GNU_IFUNC) called from another object: PLT entries in .iplt jumping through .got.plt slots, R_X86_64_IRELATIVE relocations in .rela.dyn between __rela_iplt_start and __rela_iplt_end, as ld.lld 16 writes them; _start applies them as a C library's start-up code does and exits with 40 + 2 from two indirect functions.
	.globl _start
	.text
_start:
	leaq __rela_iplt_start(%rip), %rbx
	leaq __rela_iplt_end(%rip), %r12
1:	cmpq %r12, %rbx
	jae 2f
	call *16(%rbx)			# the resolver (r_addend)
	movq (%rbx), %rcx		# the slot (r_offset)
	movq %rax, (%rcx)
	addq $24, %rbx
	jmp 1b
2:	call forty
	movl %eax, %edi
	call two
	addl %eax, %edi
	call forty			# a second call: the same PLT entry
	subl $40, %eax
	jnz 3f
	movl $60, %eax
	syscall
3:	movl $1, %edi
	movl $60, %eax
	syscall
