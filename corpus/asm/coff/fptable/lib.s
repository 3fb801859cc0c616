	.intel_syntax noprefix
	.text
	.globl times10
	.p2align 4
times10:
	lea eax, [rcx + 4*rcx]
	add eax, eax
	ret
	.globl plus1
	.p2align 4
plus1:
	lea eax, [rcx + 12]
	ret
plus24:
	lea eax, [rcx + 24]
	ret
	.globl plus24
