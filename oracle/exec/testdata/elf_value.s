# ELF x86_64, static, no libc: _start calls compute (which loads a 64-bit
# value RIP-relative and calls twice), writes the 8-byte result to stdout
# with write(1, &v, 8) and exits with exit_group(0).
	.intel_syntax noprefix
	.text
	.globl _start
_start:
	mov r11d, 0x5a5a5a5a        # marker: the call below is the one the tests corrupt
	call compute
	push rax
	mov eax, 1                  # write
	mov edi, 1
	mov rsi, rsp
	mov edx, 8
	syscall
	mov eax, 231                # exit_group
	xor edi, edi
	syscall
	ud2

	.globl compute
compute:
	mov rax, qword ptr [rip + value]
	mov rdi, rax
	call twice
	shr rax, 1                  # back to the value
	ret

twice:
	lea rax, [rdi + rdi]
	ret

	.data
	.p2align 3
value:
	.quad 0x1122334455667788
