# PE32+ without imports: the entry point returns the value in RAX.
	.intel_syntax noprefix
	.text
	.globl _start
_start:
	sub rsp, 40                 # shadow space, keeps rsp 16-aligned at calls
	mov r11d, 0x5a5a5a5a
	call compute
	add rsp, 40
	ret

	.globl compute
compute:
	mov rax, qword ptr [rip + value]
	mov rcx, rax
	call twice
	shr rax, 1
	ret

twice:
	lea rax, [rcx + rcx]
	ret

	.data
	.p2align 3
value:
	.quad 0x1122334455667788
