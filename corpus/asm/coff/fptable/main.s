# A read-only table of function pointers (ADDR64, base relocations) across objects, called in a loop, and a writable pointer; expect: 1344
	.intel_syntax noprefix
	.text
	.globl _start
	.p2align 4
_start:
	push rbx
	push rsi
	sub rsp, 40
	mov esi, 12
	xor ebx, ebx
1:
	lea rax, [rip + table]
	mov ecx, esi
	call qword ptr [rax + 8*rbx]
	mov esi, eax
	inc ebx
	cmp ebx, 3
	jb 1b
	mov rax, qword ptr [rip + last]
	mov ecx, esi
	call rax
	add rsp, 40
	pop rsi
	pop rbx
	ret

	.section .rdata,"dr"
	.p2align 3
	.globl table
table:
	.quad times10
	.quad plus1
	.quad times10

	.data
	.p2align 3
last:
	.quad plus24
