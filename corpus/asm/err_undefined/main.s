# Calls an undefined function g, four times.
	.text
	.globl _start
_start:
	call g
	call g
	call g
	call g
