# Thread-local storage: .tdata/.tbss in two objects; local-exec, initial-exec (mov and add), general- and local-dynamic (relaxed to local-exec as ld.lld does in a static executable), DTPOFF64 data (ld.lld 16 refuses TPOFF64); _start sets the thread pointer up from PT_TLS as a libc would and exits with 42 summed from TLS variables.
	.globl _start
	.text
_start:
	# Find PT_TLS in the program headers.
	leaq __ehdr_start(%rip), %rbx
	movq 32(%rbx), %rsi		# e_phoff
	addq %rbx, %rsi
	movzwl 56(%rbx), %ecx		# e_phnum
1:	cmpl $7, (%rsi)			# PT_TLS
	je 2f
	addq $56, %rsi
	decl %ecx
	jnz 1b
	movl $1, %edi
	jmp exit
2:	movq 16(%rsi), %r8		# p_vaddr
	movq 32(%rsi), %r9		# p_filesz
	movq 40(%rsi), %r10		# p_memsz
	movq 48(%rsi), %r11		# p_align
	leaq tcb(%rip), %r12		# the thread pointer
	# The block ends at tp: it starts alignUp(vaddr+memsz, align) - vaddr before it.
	leaq (%r8,%r10), %rax
	leaq -1(%rax,%r11), %rax
	movq %r11, %rdx
	negq %rdx
	andq %rdx, %rax
	subq %r8, %rax
	movq %r12, %rdi
	subq %rax, %rdi
	movq %r8, %rsi
	movq %r9, %rcx
	rep movsb			# the initialization image; the rest is zero
	movq %r12, (%r12)		# the TCB points to itself (%fs:0)
	movl $158, %eax			# arch_prctl(ARCH_SET_FS, tp)
	movl $0x1002, %edi
	movq %r12, %rsi
	syscall

	xorl %ebx, %ebx
	movl %fs:a@tpoff, %eax		# local-exec: a = 10
	addl %eax, %ebx
	movq b@gottpoff(%rip), %rcx	# initial-exec, mov: b = 20
	addl %fs:(%rcx), %ebx
	movq %fs:0, %r9			# initial-exec, add: c in .tbss, 0
	addq c@gottpoff(%rip), %r9
	movl (%r9), %eax
	testl %eax, %eax
	movl $4, %edi
	jnz exit
	data16 leaq d@tlsgd(%rip), %rdi	# general-dynamic: d = 7
	data16 data16 rex64 call __tls_get_addr@PLT
	addl (%rax), %ebx
	leaq e@tlsld(%rip), %rdi	# local-dynamic: e = 5, f in .tbss = 0
	call __tls_get_addr@PLT
	addl e@dtpoff(%rax), %ebx
	addl f@dtpoff(%rax), %ebx
	movq %fs:0, %rax		# DTPOFF64 in data: a again
	movq aoff(%rip), %rcx
	movl (%rax,%rcx), %eax
	cmpl $10, %eax
	movl $3, %edi
	jne exit
	movq eoff(%rip), %rcx
	movq %fs:0, %rax
	cmpl $5, (%rax,%rcx)
	movl $5, %edi
	jne exit
	movl %ebx, %edi
exit:	movl $60, %eax
	syscall

	.section .tdata,"awT",@progbits
	.globl a
	.type a,@object
	.size a,4
	.p2align 2
a:	.long 10
	.type e,@object
	.size e,4
e:	.long 5

	.section .tbss,"awT",@nobits
	.type f,@object
	.size f,4
	.p2align 2
f:	.zero 4

	.data
	.p2align 3
aoff:	.quad a@dtpoff
eoff:	.quad e@dtpoff

	.bss
	.p2align 6
	.zero 1024			# room for the TLS block below the thread pointer
tcb:	.zero 64
