# Calls across objects (REL32 to functions of lib.s, a tail jmp back), a static helper; expect: 142
	.intel_syntax noprefix
	.text
	.globl _start
	.p2align 4
_start:
	sub rsp, 40
	mov ecx, 40
	call add2
	mov ecx, eax
	call twice_plus
	add rsp, 40
	ret

	.p2align 4
	.globl back
back:
	lea eax, [rcx + 60]
	ret
