	.text
# acc = acc * 2 + k, in the order pre(1), init.5(0), init.100(1), init(0), fini(1): ((((1*2+0)*2+1)*2+0)*2+1) = 21, then doubled by the last fini: 42
pre:	movq $1, acc(%rip)
	ret
i5:	shlq acc(%rip)
	ret
i100:	shlq acc(%rip)
	incq acc(%rip)
	ret
i0:	shlq acc(%rip)
	ret
f0:	shlq acc(%rip)
	incq acc(%rip)
	ret
f1:	shlq acc(%rip)
	ret
	.section .preinit_array,"aw",@preinit_array
	.quad pre
	.section .init_array,"aw",@init_array
	.quad i0
	.section .init_array.100,"aw",@init_array
	.quad i100
	.section .init_array.5,"aw",@init_array
	.quad i5
	.section .fini_array,"aw",@fini_array
	.quad f0, f1
	.data
	.globl acc
acc:	.quad 0
