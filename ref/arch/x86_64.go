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

var (
	_ Arch            = X86_64{}
	_ TLSRelaxer      = X86_64{}
	_ AbsoluteRelaxer = X86_64{}
)

// Relaxations of x86_64 GOT loads, as ld.lld 16 performs them.
const (
	RelaxNone     Relax = iota
	RelaxMovToLea       // mov r64, [rip+GOT] → lea r64, [rip+S]
	RelaxCall           // call [rip+GOT] → addr32 call S
	RelaxJmp            // jmp [rip+GOT] → jmp S; nop
	// RelaxBinopToImm: with a REX prefix, `op r64, [rip+GOT]` for op one
	// of add, or, adc, sbb, and, sub, xor, cmp → `op r64, imm32 S`.
	RelaxBinopToImm
	// RelaxTestToImm: with a REX prefix, `test [rip+GOT], r64` → `test
	// r64, imm32 S`.
	RelaxTestToImm
)

// RelaxesToAbsolute implements AbsoluteRelaxer: the binop and test forms
// store the symbol's absolute address.
func (X86_64) RelaxesToAbsolute(how Relax) bool {
	return how == RelaxBinopToImm || how == RelaxTestToImm
}

// x86 encodings the relaxations and trampolines use.
const (
	opMov    = 0x8b
	opLea    = 0x8d
	opGroup5 = 0xff
	opTest   = 0x85
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
	case obj.Abs8, obj.Abs16, obj.PCRel8, obj.PCRel16:
		return applySmall(k, field, in)
	case obj.PCRel64, obj.Size64, obj.GOTOff64, obj.GOTPC64, obj.DTPOff64:
		if len(field) < 8 {
			return fmt.Errorf("%s: field of %d bytes", k, len(field))
		}
		var v uint64
		switch k {
		case obj.PCRel64:
			v = in.S + A - in.P
		case obj.Size64:
			v = in.Z + A
		case obj.GOTOff64:
			v = in.S + A - in.GOT
		case obj.GOTPC64:
			v = in.GOT + A - in.P
		default: // DTPOff64, relaxed to local-exec
			v = in.S + A - in.TP
		}
		binary.LittleEndian.PutUint64(field, v)
		return nil
	case obj.Size32:
		v = in.Z + A
	case obj.GOTPC32:
		v = in.GOT + A - in.P
	case obj.TPOff32, obj.DTPOff32:
		v = in.S + A - in.TP
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

// applySmall stores the 1- and 2-byte kinds, range-checked as ld.lld
// checks them: Abs8 and Abs16 take signed or unsigned values, PCRel8 and
// PCRel16 signed ones.
func applySmall(k obj.RelocKind, field []byte, in Inputs) error {
	bits := 8
	if k == obj.Abs16 || k == obj.PCRel16 {
		bits = 16
	}
	if len(field) < bits/8 {
		return fmt.Errorf("%s: field of %d bytes", k, len(field))
	}
	v := int64(in.S + uint64(in.A))
	if k == obj.PCRel8 || k == obj.PCRel16 {
		v = int64(in.S + uint64(in.A) - in.P)
	}
	lo, hi := int64(-1)<<(bits-1), int64(1)<<(bits-1)-1
	if k == obj.Abs8 || k == obj.Abs16 {
		hi = int64(1)<<bits - 1
	}
	if v < lo || v > hi {
		return &RangeError{Kind: k, Value: v, Low: lo, High: hi}
	}
	field[0] = byte(v)
	if bits == 16 {
		field[1] = byte(v >> 8)
	}
	return nil
}

// RelaxTLS implements TLSRelaxer with ld.lld 16's rewrites for a static
// executable (the x86_64 psABI's code transitions):
//
//	IE: mov x@gottpoff(%rip), %r  → mov $tpoff, %r
//	    add x@gottpoff(%rip), %r  → lea tpoff(%r), %r (add $tpoff for %rsp, %r12)
//	GD: data16 lea x@tlsgd(%rip), %rdi; data16 data16 rex64 call __tls_get_addr
//	    → mov %fs:0, %rax; lea tpoff(%rax), %rax
//	LD: lea x@tlsld(%rip), %rdi; call __tls_get_addr (or call *GOT)
//	    → data16 data16 data16 mov %fs:0, %rax (the x@dtpoff uses become tpoff)
func (X86_64) RelaxTLS(k obj.RelocKind, code []byte, off uint64, v uint64) (bool, error) {
	switch k {
	case obj.GOTTPOff:
		if off < 3 || off+4 > uint64(len(code)) {
			return false, fmt.Errorf("R_X86_64_GOTTPOFF at offset %#x: no room for the instruction", off)
		}
		inst := code[off-3 : off]
		reg := code[off-1] >> 3 & 7
		switch {
		case inst[0] == 0x48 && inst[1] == 0x03 && inst[2] == 0x25: // add rsp
			copy(inst, []byte{0x48, 0x81, 0xc4})
		case inst[0] == 0x4c && inst[1] == 0x03 && inst[2] == 0x25: // add r12
			copy(inst, []byte{0x49, 0x81, 0xc4})
		case inst[0] == 0x4c && inst[1] == 0x03:
			inst[0], inst[1], inst[2] = 0x4d, 0x8d, 0x80|reg<<3|reg
		case inst[0] == 0x48 && inst[1] == 0x03:
			inst[1], inst[2] = 0x8d, 0x80|reg<<3|reg
		case inst[0] == 0x4c && inst[1] == 0x8b:
			inst[0], inst[1], inst[2] = 0x49, 0xc7, 0xc0|reg
		case inst[0] == 0x48 && inst[1] == 0x8b:
			inst[1], inst[2] = 0xc7, 0xc0|reg
		default:
			return false, fmt.Errorf("R_X86_64_GOTTPOFF must be used in MOVQ or ADDQ instructions only")
		}
		return false, putTPOff(code[off:], v+4)
	case obj.TLSGD:
		if off < 4 || off+12 > uint64(len(code)) {
			return false, fmt.Errorf("R_X86_64_TLSGD at offset %#x: no room for the general-dynamic sequence", off)
		}
		copy(code[off-4:], []byte{0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0, 0x48, 0x8d, 0x80})
		return true, putTPOff(code[off+8:], v+4)
	case obj.TLSLD:
		if off < 3 || off+6 > uint64(len(code)) {
			return false, fmt.Errorf("R_X86_64_TLSLD at offset %#x: no room for the local-dynamic sequence", off)
		}
		seq := []byte{0x66, 0x66, 0x66, 0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0}
		switch {
		case code[off+4] == opCall && off+9 <= uint64(len(code)):
			copy(code[off-3:], seq)
		case code[off+4] == opGroup5 && code[off+5] == modCall && off+10 <= uint64(len(code)):
			code[off-3] = 0x66
			copy(code[off-2:], seq)
		default:
			return false, fmt.Errorf("expected R_X86_64_PLT32 or R_X86_64_GOTPCRELX after R_X86_64_TLSLD")
		}
		return true, nil
	}
	return false, fmt.Errorf("%s: %w as a TLS sequence on x86_64", k, ErrUnsupported)
}

// putTPOff stores a 32-bit TP offset, range-checked.
func putTPOff(field []byte, v uint64) error {
	if int64(v) != int64(int32(v)) {
		return &RangeError{Kind: obj.TPOff32, Value: int64(v), Low: math.MinInt32, High: math.MaxInt32}
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
	case op == opGroup5:
		return RelaxNone
	}
	// ld.lld relaxes the test and binop forms of R_X86_64_REX_GOTPCRELX
	// only (the model has one kind for both GOTPCRELX types: a REX
	// prefix before the opcode tells them apart, as the object writer
	// does), in a non-PIC link, to an immediate.
	if off < 3 || code[off-3]&0xf0 != 0x40 || modrm&0xc7 != 0x05 {
		return RelaxNone
	}
	switch op {
	case opTest:
		return RelaxTestToImm
	case 0x03, 0x0b, 0x13, 0x1b, 0x23, 0x2b, 0x33, 0x3b:
		return RelaxBinopToImm
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
	case RelaxTestToImm, RelaxBinopToImm:
		// v is S + A (RelaxesToAbsolute), A the -4 of the RIP-relative
		// form: the immediate is S. ModRM.reg moves to ModRM.rm, and
		// REX.R to REX.B, as ld.lld rewrites them.
		modrm, rex := code[off-1], code[off-3]
		if how == RelaxTestToImm {
			code[off-2] = 0xf7
			code[off-1] = 0xc0 | (modrm&0x38)>>3
		} else {
			code[off-1] = 0xc0 | (modrm&0x38)>>3 | (code[off-2] & 0x3c)
			code[off-2] = 0x81
		}
		code[off-3] = rex&^0x4 | (rex&0x4)>>2
		le.PutUint32(code[off:], uint32(v+4))
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
