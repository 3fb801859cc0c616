package arch

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// Wasm32 is WebAssembly's part of incremental linking: functions are
// called by index, so code has no addresses and a moved body leaves
// nothing behind (TrampolineSize 0); relocated fields are 5-byte padded
// LEB128s (which a linker patches in place without moving code) or
// 4-byte words; free code is `unreachable` (0x00), so a call of a freed
// body traps. The incremental linker's GOT is Wasm's table: a table
// index is the symbol's GOT slot + 1 (slot 0 of the table is null).
type Wasm32 struct{}

var _ Arch = Wasm32{}

// Name implements Arch.
func (Wasm32) Name() string { return "wasm32" }

// PtrSize implements Arch: a linear-memory address or table index is 4
// bytes.
func (Wasm32) PtrSize() uint64 { return 4 }

// CodeFill implements Arch: `unreachable`.
func (Wasm32) CodeFill() byte { return 0x00 }

// Apply implements Arch for Abs32 (R_WASM_MEMORY_ADDR_I32) and the Wasm
// kinds of package obj.
func (Wasm32) Apply(k obj.RelocKind, field []byte, in Inputs) error {
	if len(field) < k.Size() {
		return fmt.Errorf("%s: field of %d bytes", k, len(field))
	}
	var v int64
	switch k {
	case obj.Abs32, obj.WasmAddrLEB, obj.WasmAddrSLEB, obj.WasmFuncIndexLEB:
		v = int64(in.S) + in.A
	case obj.WasmTableIndexSLEB, obj.WasmTableIndexI32:
		if in.G < in.GOT {
			return fmt.Errorf("%s: slot %#x below the table's base %#x", k, in.G, in.GOT)
		}
		v = int64((in.G-in.GOT)/4) + 1
	case obj.WasmBodySizeLEB:
		v = int64(in.Z) - 5
	default:
		return fmt.Errorf("%s: %w", k, ErrUnsupported)
	}
	switch k {
	case obj.WasmAddrSLEB, obj.WasmTableIndexSLEB:
		if v < math.MinInt32 || v > math.MaxInt32 {
			return &RangeError{Kind: k, Value: v, Low: math.MinInt32, High: math.MaxInt32}
		}
		x := v
		for i := 0; i < 4; i++ {
			field[i] = byte(x&0x7f) | 0x80
			x >>= 7
		}
		field[4] = byte(x & 0x7f)
		return nil
	}
	if v < 0 || v > math.MaxUint32 {
		return &RangeError{Kind: k, Value: v, Low: 0, High: math.MaxUint32}
	}
	if k == obj.Abs32 || k == obj.WasmTableIndexI32 {
		binary.LittleEndian.PutUint32(field, uint32(v))
		return nil
	}
	x := uint64(v)
	for i := 0; i < 4; i++ {
		field[i] = byte(x&0x7f) | 0x80
		x >>= 7
	}
	field[4] = byte(x & 0x7f)
	return nil
}

// Relaxation implements Arch: Wasm has no GOT loads to relax.
func (Wasm32) Relaxation(obj.RelocKind, []byte, uint64, int64) Relax { return RelaxNone }

// ApplyRelaxed implements Arch; nothing is ever relaxed.
func (Wasm32) ApplyRelaxed(Relax, []byte, uint64, uint64) {}

// TrampolineSize implements Arch: 0, callers name functions by index.
func (Wasm32) TrampolineSize() uint64 { return 0 }

// Trampoline implements Arch: Wasm has none.
func (Wasm32) Trampoline(site, target uint64) ([]byte, error) {
	return nil, fmt.Errorf("wasm32: no trampolines (functions are called by index)")
}
