# An SHF_LINK_ORDER section whose link is a merge section: ld.lld refuses it.
	.globl _start
	.text
_start:	ret
	.section .rodata.str1.1,"aMS",@progbits,1
	.asciz "x"
	.section .lo,"ao",@progbits,.rodata.str1.1
	.byte 1
