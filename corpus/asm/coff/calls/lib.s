	.intel_syntax noprefix
	.text
	.globl add2
	.p2align 4
add2:
	call helper
	lea eax, [rcx + rax]
	ret

helper:
	mov eax, 2
	ret

	.globl twice_plus
	.p2align 5
twice_plus:
	add ecx, ecx
	sub ecx, 2
	jmp back
