# TLS variables of a second object: .tdata with an 8-byte alignment, .tbss with 16, and a .tdata.N input section.
	.section .tdata,"awT",@progbits
	.globl b
	.type b,@object
	.size b,4
	.p2align 3
b:	.long 20
	.section .tdata.d,"awT",@progbits
	.globl d
	.type d,@object
	.size d,4
	.p2align 2
d:	.long 7
	.section .tbss,"awT",@nobits
	.globl c
	.type c,@object
	.size c,8
	.p2align 4
c:	.zero 8
