# PE importing kernel32!ExitProcess (linked against an import library made
# by llvm-dlltool): wine runs it, the unicorn loader refuses it.
	.intel_syntax noprefix
	.text
	.globl _start
_start:
	sub rsp, 40
	mov ecx, 42
	call qword ptr [rip + __imp_ExitProcess]
	ud2
