package arch

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// X86_64 is the x86_64 architecture with the arithmetic of ELF's x86_64
// psABI, which the neutral relocation kinds of package obj follow.
type X86_64 struct{}

var _ Arch = X86_64{}

// Relaxations of x86_64 GOT loads, as ld.lld 16 performs them.
const (
	RelaxNone     Relax = iota
	RelaxMovToLea       // mov r64, [rip+GOT] → lea r64, [rip+S]
	RelaxCall           // call [rip+GOT] → addr32 call S
	RelaxJmp            // jmp [rip+GOT] → jmp S; nop
)

// x86 encodings the relaxations and trampolines use.
const (
	opMov    = 0x8b
	opLea    = 0x8d
	opGroup5 = 0xff
	modCall  = 0x15 // ff /2 with RIP-relative memory
	modJmp   = 0x25 // ff /4 with RIP-relative memory
	opCall   = 0xe8
	opJmp    = 0xe9
	addr32   = 0x67
	nop      = 0x90
	int3     = 0xcc
)

// trampolineSize is the room of a trampoline: a 5-byte jmp rel32 padded
// with int3 to 8 bytes.
const trampolineSize = 8

// Name implements Arch.
func (X86_64) Name() string { return "x86_64" }

// PtrSize implements Arch.
func (X86_64) PtrSize() uint64 { return 8 }

// CodeFill implements Arch: int3.
func (X86_64) CodeFill() byte { return int3 }

// Apply implements Arch: Abs64 is S+A in 8 bytes; Abs32 S+A zero-extended
// and Abs32S sign-extended in 4; PCRel32 and Branch32 S+A-P, GOTPCRel32
// and GOTLoad32 G+A-P, ImageRel32 S+A-Base, each in 4 signed bytes but
// ImageRel32 (unsigned).
func (X86_64) Apply(k obj.RelocKind, field []byte, in Inputs) error {
	A := uint64(in.A)
	var v uint64
	lo, hi := int64(math.MinInt32), int64(math.MaxInt32)
	switch k {
	case obj.Abs64:
		if len(field) < 8 {
			return fmt.Errorf("%s: field of %d bytes", k, len(field))
		}
		binary.LittleEndian.PutUint64(field, in.S+A)
		return nil
	case obj.Abs32:
		v, lo, hi = in.S+A, 0, math.MaxUint32
		if v > math.MaxUint32 {
			return &RangeError{Kind: k, Value: int64(v), Low: lo, High: hi}
		}
	case obj.Abs32S:
		v = in.S + A
	case obj.PCRel32, obj.Branch32:
		v = in.S + A - in.P
	case obj.GOTPCRel32, obj.GOTLoad32:
		v = in.G + A - in.P
	case obj.ImageRel32:
		v, lo, hi = in.S+A-in.Base, 0, math.MaxUint32
		if v > math.MaxUint32 {
			return &RangeError{Kind: k, Value: int64(v), Low: lo, High: hi}
		}
	default:
		return fmt.Errorf("%s: %w on x86_64", k, ErrUnsupported)
	}
	if len(field) < 4 {
		return fmt.Errorf("%s: field of %d bytes", k, len(field))
	}
	if k != obj.Abs32 && k != obj.ImageRel32 && int64(v) != int64(int32(v)) {
		return &RangeError{Kind: k, Value: int64(v), Low: lo, High: hi}
	}
	binary.LittleEndian.PutUint32(field, uint32(v))
	return nil
}

// Relaxation implements Arch with ld.lld 16's rules for a static non-PIC
// link: only GOTLoad32 with addend -4 (the field ends the instruction) in
// `mov r, [rip+x]` (8b), `call [rip+x]` (ff 15) or `jmp [rip+x]` (ff 25).
func (X86_64) Relaxation(k obj.RelocKind, code []byte, off uint64, a int64) Relax {
	if k != obj.GOTLoad32 || a != -4 || off < 2 || off > uint64(len(code)) {
		return RelaxNone
	}
	op, modrm := code[off-2], code[off-1]
	switch {
	case op == opMov:
		return RelaxMovToLea
	case op == opGroup5 && modrm == modCall:
		return RelaxCall
	case op == opGroup5 && modrm == modJmp:
		return RelaxJmp
	}
	return RelaxNone
}

// ApplyRelaxed implements Arch: mov becomes lea with the same ModRM, an
// indirect call becomes `addr32 call rel32`, an indirect jmp `jmp rel32;
// nop` (the displacement then starts one byte earlier).
func (X86_64) ApplyRelaxed(how Relax, code []byte, off uint64, v uint64) {
	le := binary.LittleEndian
	switch how {
	case RelaxMovToLea:
		code[off-2] = opLea
		le.PutUint32(code[off:], uint32(v))
	case RelaxCall:
		code[off-2] = addr32
		code[off-1] = opCall
		le.PutUint32(code[off:], uint32(v))
	case RelaxJmp:
		code[off-2] = opJmp
		le.PutUint32(code[off-1:], uint32(v+1))
		code[off+3] = nop
	}
}

// TrampolineSize implements Arch.
func (X86_64) TrampolineSize() uint64 { return trampolineSize }

// Trampoline implements Arch: `jmp rel32` to target, padded with int3.
func (X86_64) Trampoline(site, target uint64) ([]byte, error) {
	d := int64(target) - int64(site+5)
	if d != int64(int32(d)) {
		return nil, fmt.Errorf("jump from %#x to %#x out of rel32 range", site, target)
	}
	b := []byte{opJmp, 0, 0, 0, 0, int3, int3, int3}
	binary.LittleEndian.PutUint32(b[1:], uint32(int32(d)))
	return b, nil
}
