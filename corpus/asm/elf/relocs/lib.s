# The symbols main.s refers to: absolute values, a data object with a size, and one just after main.o's data.
	.globl small, medium, near, obj
	small = 20
	medium = 0x1234
	.data
near:	.quad 7
	.type obj,@object
	.size obj, 24
obj:	.zero 24
