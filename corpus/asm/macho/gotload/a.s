# GOT references: movq x@GOTPCREL loads (X86_64_RELOC_GOT_LOAD, which
# ld64.lld relaxes to leaq when the symbol has no GOT entry), calls
# through the GOT (X86_64_RELOC_GOT, which keep one), and a load of a
# symbol that is also called through the GOT (not relaxed: it has a slot).
# counter = 40; bump adds 2 through the GOT -> 42; + seven() = 7 -> 49.
# expect: 49
	.section __TEXT,__text,regular,pure_instructions
	.globl __start
	.p2align 4
# The entry: main's value, 8 bytes on stdout, then exit(0) (Darwin
# syscalls), as linkcheck's code generator writes it.
__start:
	callq _main
	pushq %rax
	movl $0x2000004, %eax
	movl $1, %edi
	movq %rsp, %rsi
	movl $8, %edx
	syscall
	movl $0x2000001, %eax
	xorl %edi, %edi
	syscall
	ud2

	.globl _main
	.p2align 4
_main:
	pushq %rbx
	movq _counter@GOTPCREL(%rip), %rbx
	callq *_bump@GOTPCREL(%rip)
	movq (%rbx), %rax
	movq _seven@GOTPCREL(%rip), %rcx
	pushq %rax
	callq *%rcx
	popq %rcx
	addq %rcx, %rax
	movq _unused@GOTPCREL(%rip), %rcx
	popq %rbx
	retq
.subsections_via_symbols
