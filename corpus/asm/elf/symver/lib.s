# foo's definition under the default version V2 (.symver NAME@@VER), and bar's under V1.
	.text
	.globl foo_v2
	.symver foo_v2, foo@@V2
foo_v2:	movl $40, %edi
	ret
	.globl bar_v1
	.symver bar_v1, bar@@V1
bar_v1:	addl $2, %edi
	ret
