# Wasm: reads a word of .bss and the first word of a page it grows, and
# writes both; every run must return 0, as in a fresh instance.
	.text
	.globl _start
	.functype _start () -> (i64)
_start:
	.functype _start () -> (i64)
	.local i32
	i32.const 1
	memory.grow 0
	i32.const 16
	i32.shl
	local.set 0
	local.get 0
	i64.load 0
	local.get 0
	i64.const 1
	i64.store 0
	i32.const 0
	i64.load scratch
	i64.add
	i32.const 0
	i64.const 1
	i64.store scratch
	end_function

	.section .bss.scratch,"",@
	.p2align 3
scratch:
	.int64 0
	.size scratch, 8
