	.section __DATA,__data
	.globl _g
	.p2align 3
_g:
	.quad 100
.subsections_via_symbols
