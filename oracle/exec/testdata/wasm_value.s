# Wasm: _start() -> i64 returns the value loaded from linear memory plus a call.
	.text
	.globl _start
	.functype _start () -> (i64)
	.functype twice (i64) -> (i64)
_start:
	.functype _start () -> (i64)
	i32.const 0
	i64.load value
	call twice
	i64.const 1
	i64.shr_u
	end_function

twice:
	.functype twice (i64) -> (i64)
	local.get 0
	local.get 0
	i64.add
	end_function

	.section .data.value,"",@
	.p2align 3
value:
	.int64 0x1122334455667788
	.size value, 8
