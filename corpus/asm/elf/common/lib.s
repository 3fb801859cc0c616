	.comm c, 32, 16
	.data
	.globl d
d:	.quad 2
