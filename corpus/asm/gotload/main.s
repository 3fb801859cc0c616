# GOT loads (REX_GOTPCRELX mov, GOTPCRELX call/jmp) of globals in another object; exits with 7+35=42.
	.text
	.globl _start
	.type _start,@function
_start:
	movq counter@GOTPCREL(%rip), %rax   # R_X86_64_REX_GOTPCRELX -> lea
	movq (%rax), %rbx
	call *get35@GOTPCREL(%rip)          # R_X86_64_GOTPCRELX call -> addr32 call
	add %rax, %rbx
	movl counter@GOTPCREL(%rip), %ecx   # R_X86_64_GOTPCRELX mov (no REX) -> lea
	mov %rbx, %rdi
	jmp *finish@GOTPCREL(%rip)          # R_X86_64_GOTPCRELX jmp -> jmp; nop
