	.globl h, p, i, d
	.hidden h
	.protected p
	.internal i
	.hidden d
	.text
	.type h, @function
h:	ret
	.type p, @function
p:	ret
	.type i, @function
i:	ret
	.data
	.type d, @object
d:	.quad 1
	.size d, 8
