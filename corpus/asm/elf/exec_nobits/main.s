# A non-empty executable SHT_NOBITS section (issue 18; ld.lld's
# section-layout test has one): as ld.lld, zeros after the code in the
# code segment (p_memsz past p_filesz), after the code sections that come
# later in the input too, taking no room in the file. The program reads a
# byte of it (0) and adds 42. Exit status 42.
	.text
	.globl _start
	.type _start, @function
_start:
	movzbl zeros+3(%rip), %edi
	call more
	addl %eax, %edi
	movl $60, %eax
	syscall
	.size _start, .-_start

	.section .xb,"ax",@nobits
	.p2align 4
	.globl zeros
	.type zeros, @object
zeros:
	.zero 32
	.size zeros, 32

	.section .text.more,"ax",@progbits
	.type more, @function
more:
	movl $42, %eax
	ret
	.size more, .-more

	.data
	.quad zeros

	# .bss after one byte of .data, 16-aligned: its sh_offset is where
	# the file is (not congruent to its address), as ld.lld writes it.
	.section .data.b,"aw",@progbits
	.byte 1
	.bss
	.p2align 4
	.zero 16
