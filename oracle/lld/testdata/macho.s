# Mach-O x86_64 MH_EXECUTE, no libSystem: the same program as elf.s
# with Darwin syscall numbers (write 0x2000004, exit 0x2000001).
	.intel_syntax noprefix
	.text
	.globl __start
__start:
	mov r11d, 0x5a5a5a5a
	call _compute
	push rax
	mov eax, 0x2000004          # write
	mov edi, 1
	mov rsi, rsp
	mov edx, 8
	syscall
	mov eax, 0x2000001          # exit
	xor edi, edi
	syscall
	ud2

	.globl _compute
_compute:
	mov rax, qword ptr [rip + _value]
	mov rdi, rax
	call _twice
	shr rax, 1
	ret

_twice:
	lea rax, [rdi + rdi]
	ret

	.data
	.p2align 3
_value:
	.quad 0x1122334455667788
