# Unit b: functions called from a, globals, a const pointer, bss, the
# error table, and a label without .size (its extent is inferred).
	.intel_syntax noprefix

	.section .text.dbl,"ax",@progbits
	.globl dbl
	.type dbl,@function
	.p2align 4
dbl:
	lea rax, [rdi + rdi]
	ret
	.size dbl, .-dbl

	.section .text.helper,"ax",@progbits
	.globl helper
	.p2align 4
helper:
	mov rax, qword ptr [rip + arr + 16]
	call dbl
	ret

	.section .text.inc,"ax",@progbits
	.globl inc
	.type inc,@function
	.p2align 4
inc:
	lea rax, [rdi + 1]
	ret
	.size inc, .-inc

	.section .data.counter,"aw",@progbits
	.globl counter
	.type counter,@object
	.p2align 3
counter:
	.quad 7
	.size counter, 8

	.section .data.arr,"aw",@progbits
	.globl arr
	.type arr,@object
	.p2align 3
arr:
	.quad 1, 2, 3, 4
	.size arr, 32

	.section .rodata.table,"a",@progbits
	.globl table
	.type table,@object
	.p2align 3
table:
	.quad inc
	.size table, 8

	.section .bss.zeros,"aw",@nobits
	.globl zeros
	.type zeros,@object
	.p2align 3
zeros:
	.zero 64
	.size zeros, 64

	.section .rodata._lc_errtab,"a",@progbits
	.globl _lc_errtab
	.type _lc_errtab,@object
_lc_errtab:
	.long 12, 24, 37
	.asciz "OutOfMemory"
	.asciz "FileNotFound"
	.size _lc_errtab, .-_lc_errtab

# A jump table in a section no symbol names (clang's .LJTI), through an
# absolute disp32 with an index register, and a merged string literal.
	.section .text.pick,"ax",@progbits
	.globl pick
	.type pick,@function
	.p2align 4
pick:
	jmp qword ptr [8*rdi + .Ljt]
.Lcase0:
	lea rax, [rip + .Lstr]
	ret
.Lcase1:
	xor eax, eax
	ret
	.size pick, .-pick

	.section .rodata.jt,"a",@progbits
	.p2align 3
.Ljt:
	.quad .Lcase0
	.quad .Lcase1
	.quad .Lcase0

	.section .rodata.str1.1,"aMS",@progbits,1
.Lstr:
	.asciz "picked"
