# GOT entries in ld64.lld's order (each section's relocations last first:
# three X86_64_RELOC_GOT calls in main take slots from the last one back),
# to private externs (hidden: bound across the objects, local in the
# output, not exported), a local and a global: one() + two() + three() +
# the hidden counter (4) read through a relaxed GOT load = 10.
# expect: 10
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
	callq *_one@GOTPCREL(%rip)
	movq %rax, %rbx
	callq *_two@GOTPCREL(%rip)
	addq %rax, %rbx
	callq *_three@GOTPCREL(%rip)
	addq %rax, %rbx
	movq _hcount@GOTPCREL(%rip), %rax
	addq (%rax), %rbx
	movq %rbx, %rax
	popq %rbx
	retq

	.p2align 4
_one:
	movl $1, %eax
	retq
.subsections_via_symbols
