# Linker-defined symbols (_end, _etext, _edata, end, etext, edata, __bss_start, __ehdr_start, __executable_start, __start_/__stop_ of a C-identifier section, the array bounds, __rela_iplt_*): exits 42 when the bounds are right.
	.globl _start
	.text
_start:
	movq $__stop_mysec, %rax
	subq $__start_mysec, %rax          # 16: two quads in mysec
	movq $_end, %rcx
	subq $__bss_start, %rcx            # 32: the .bss
	addq %rcx, %rax                    # 48
	movq $_edata, %rcx
	subq $edata, %rcx                  # 0
	addq %rcx, %rax
	movq $__init_array_end, %rcx
	subq $__init_array_start, %rcx     # 0: no .init_array
	addq %rcx, %rax
	leaq __ehdr_start(%rip), %rcx
	cmpl $0x464c457f, (%rcx)           # the ELF magic at the header
	jne 1f
	subq $6, %rax                      # 42
1:	movq $__executable_start, %rcx
	movq $_etext, %rcx
	movq $etext, %rcx
	movq $end, %rcx
	movq $__fini_array_start, %rcx
	movq $__preinit_array_end, %rcx
	movq $__rela_iplt_start, %rcx
	movq $__rela_iplt_end, %rcx
	movq %rax, %rdi
	movl $60, %eax
	syscall
	.section mysec,"aw",@progbits
	.quad 1, 2
	.data
	.quad 3
	.bss
	.zero 32
