# Wasm: traps (unreachable).
	.text
	.globl _start
	.functype _start () -> (i64)
_start:
	.functype _start () -> (i64)
	unreachable
	end_function
