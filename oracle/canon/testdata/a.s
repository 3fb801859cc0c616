# Unit a: the entry stub, main, a local function; calls across units,
# GOT loads of a global, a function and the error table.
	.intel_syntax noprefix

	.section .text._start,"ax",@progbits
	.globl _start
	.type _start,@function
	.p2align 4
_start:
	call main
	push rax
	mov eax, 1
	mov edi, 1
	mov rsi, rsp
	mov edx, 8
	syscall
	mov eax, 60
	xor edi, edi
	syscall
	.size _start, .-_start

	.section .text.main,"ax",@progbits
	.globl main
	.type main,@function
	.p2align 4
main:
	push rbp
	mov rbp, rsp
	mov edi, 21
	call dbl
	mov rcx, qword ptr [rip + counter@GOTPCREL]
	add rax, qword ptr [rcx]
	push rax
	mov rcx, qword ptr [rip + table@GOTPCREL]
	mov edi, 2
	call qword ptr [rcx]
	pop rcx
	add rax, rcx
	push rax
	lea rax, [rip + twice]
	mov rdi, 3
	call rax
	pop rcx
	add rax, rcx
	mov rcx, qword ptr [rip + _lc_errtab@GOTPCREL]
	mov ecx, dword ptr [rcx]
	add rax, rcx
	mov rcx, qword ptr [rip + helper@GOTPCREL]
	push rax
	call rcx
	pop rcx
	add rax, rcx
	cmp rax, 100
	jb .Lsmall
	sub rax, 100
.Lsmall:
	pop rbp
	ret
	.size main, .-main

	.section .text.twice,"ax",@progbits
	.type twice,@function
	.p2align 4
twice:
	lea rax, [rdi + rdi]
	ret
	.size twice, .-twice

	.section .data.ptrs,"aw",@progbits
	.globl ptrs
	.type ptrs,@object
	.p2align 3
ptrs:
	.quad counter
	.quad arr+8
	.quad twice
	.quad 0x1122334455667788
	.size ptrs, 32
