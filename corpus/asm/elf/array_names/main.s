# Init, fini and preinit arrays under names that do not say their type
# (issue 18; ld.lld's gc-sections test): .init of type SHT_INIT_ARRAY and
# .fini of type SHT_FINI_ARRAY, which llvm-mc makes writable and
# executable ("awx", from the names' defaults), and the constructor and
# destructor tables .ctors and .dtors. As ld.lld: each keeps its type and
# flags, all are RELRO (the arrays by type, .ctors/.dtors by name), the
# executable arrays in a read-write-execute segment before the read-write
# one, one PT_GNU_RELRO over both. Exit status 42.
	.text
	.globl _start
	.type _start, @function
_start:
	movl $42, %edi
	movl $60, %eax
	syscall
	.size _start, .-_start

	.type fini_fn, @function
fini_fn:
	ret
	.size fini_fn, .-fini_fn

	.section .init,"aw",@init_array
	.p2align 3
	.quad _start
	.section .fini,"aw",@fini_array
	.p2align 3
	.quad fini_fn
	.section .ctors,"aw",@progbits
	.p2align 3
	.quad _start
	.section .dtors,"aw",@progbits
	.p2align 3
	.quad fini_fn
	.section .preinit_array,"aw",@preinit_array
	.p2align 3
	.quad _start
