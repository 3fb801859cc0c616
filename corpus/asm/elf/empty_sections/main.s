# No code and no entry: merge sections of two entry sizes in .rodata and the assembler's empty .text, placed after the end of the loaded part as ld.lld places it (not a program).
	.section .rodata.1,"aM",@progbits,1
	.p2align 2
	.byte 0x42
	.section .rodata.2,"aM",@progbits,3
	.p2align 2
	.short 0x42
	.byte 0
