// Package x86 is linkcheck's x86_64 instruction encoder: a table-driven
// encoder for the general-purpose subset that the reference code generator
// and the linkers' stubs need, an Intel-syntax parser for one instruction,
// and the recommended multi-byte nop sequences.
//
// Encode reports where a displacement or immediate sits in the bytes, so a
// caller can attach a relocation. Invalid operand combinations return an
// error that names the instruction and the problem; nothing panics.
//
// The encoder's choices between equivalent encodings follow llvm-mc 16
// (see docs/x86.md); the tests check every form against llvm-mc and against
// golang.org/x/arch/x86/x86asm.
package x86

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Field locates a displacement or immediate inside an encoding. Size 0
// means the field is absent.
type Field struct {
	Off, Size int
}

// Encoding is an encoded instruction. Disp covers memory displacements
// (disp8/disp32, RIP-relative and absolute disp32) and rel8/rel32 branch
// displacements; Imm covers the immediate.
type Encoding struct {
	Bytes []byte
	Disp  Field
	Imm   Field
}

// ErrInvalid is wrapped by every error Encode returns.
var ErrInvalid = errors.New("invalid instruction")

// forms is the read-only instruction table.
var forms = buildForms()

// Encode encodes one instruction.
func Encode(in Inst) (Encoding, error) {
	var buf [16]byte
	b, e, err := encodeAppend(buf[:0], in)
	if err != nil {
		return Encoding{}, err
	}
	e.Bytes = append([]byte(nil), b...)
	return e, nil
}

// Asm appends encoded instructions to a buffer. The zero value is ready to
// use.
type Asm struct {
	buf []byte
}

// Emit encodes in and appends it to the buffer. The returned Encoding's
// Bytes alias the buffer (valid until the next Emit) and its Disp and Imm
// offsets are relative to the start of the buffer. On error nothing is
// appended.
func (a *Asm) Emit(in Inst) (Encoding, error) {
	start := len(a.buf)
	b, e, err := encodeAppend(a.buf, in)
	if err != nil {
		a.buf = a.buf[:start]
		return Encoding{}, err
	}
	a.buf = b
	e.Bytes = b[start:]
	if e.Disp.Size != 0 {
		e.Disp.Off += start
	}
	if e.Imm.Size != 0 {
		e.Imm.Off += start
	}
	return e, nil
}

// Bytes returns the assembled code.
func (a *Asm) Bytes() []byte { return a.buf }

// Reset empties the buffer, keeping its storage.
func (a *Asm) Reset() { a.buf = a.buf[:0] }

// Len returns the number of bytes assembled so far.
func (a *Asm) Len() int { return len(a.buf) }

// errorf returns an ErrInvalid-wrapping error naming the instruction.
func errorf(in Inst, format string, args ...any) error {
	return fmt.Errorf("x86: %s: %s: %w", in, fmt.Sprintf(format, args...), ErrInvalid)
}

// encodeAppend encodes in after dst; the Encoding's fields are relative to
// the start of the instruction.
func encodeAppend(dst []byte, in Inst) ([]byte, Encoding, error) {
	if err := validate(in); err != nil {
		return dst, Encoding{}, err
	}
	fs, ok := forms[in.Op]
	if !ok {
		if in.Op != strings.ToLower(in.Op) {
			return dst, Encoding{}, errorf(in, "mnemonic %q must be lowercase", in.Op)
		}
		return dst, Encoding{}, errorf(in, "unknown mnemonic %q", in.Op)
	}
	f, err := pick(in, fs)
	if err != nil {
		return dst, Encoding{}, err
	}
	return emit(dst, in, f)
}

// validate checks each operand on its own.
func validate(in Inst) error {
	for i, a := range in.Args {
		switch a := a.(type) {
		case nil:
			return errorf(in, "operand %d is nil", i+1)
		case Reg:
			if !a.Valid() {
				return errorf(in, "operand %d: invalid register %d", i+1, uint8(a))
			}
		case Mem:
			if err := validateMem(in, a); err != nil {
				return err
			}
		case Imm:
		case Rel:
			if a.Size != 1 && a.Size != 4 {
				return errorf(in, "branch displacement size %d (want 1 or 4)", a.Size)
			}
			if a.Size == 1 && (a.Disp < -128 || a.Disp > 127) {
				return errorf(in, "branch displacement %d does not fit rel8", a.Disp)
			}
		default:
			return errorf(in, "operand %d: unsupported operand type %T", i+1, a)
		}
	}
	return nil
}

func validateMem(in Inst, m Mem) error {
	switch m.Size {
	case 0, 1, 2, 4, 8:
	default:
		return errorf(in, "memory operand size %d (want 1, 2, 4 or 8)", m.Size)
	}
	if m.Base != NoReg && (!m.Base.Valid() || m.Base.Size() != 8) {
		return errorf(in, "base register %s is not a 64-bit register", m.Base)
	}
	if m.Index != NoReg {
		if !m.Index.Valid() || m.Index.Size() != 8 {
			return errorf(in, "index register %s is not a 64-bit register", m.Index)
		}
		if m.Index == RSP {
			return errorf(in, "rsp cannot be an index register")
		}
	}
	switch m.Scale {
	case 0, 1:
	case 2, 4, 8:
		if m.Index == NoReg {
			return errorf(in, "scale %d without an index register", m.Scale)
		}
	default:
		return errorf(in, "scale %d (want 1, 2, 4 or 8)", m.Scale)
	}
	if m.RIP && (m.Base != NoReg || m.Index != NoReg) {
		return errorf(in, "rip-relative operand cannot have a base or index register")
	}
	return nil
}

// pick returns the first form that matches. When a memory operand has no
// size and forms of different memory sizes match, the operand is ambiguous.
func pick(in Inst, fs []form) (*form, error) {
	var first *form
	for i := range fs {
		if matches(in.Args, &fs[i], false) {
			first = &fs[i]
			break
		}
	}
	if first == nil {
		return nil, errorf(in, "no form of %q takes operands (%s)", in.Op, describe(in.Args))
	}
	sizeless := false
	for _, a := range in.Args {
		if m, ok := a.(Mem); ok && m.Size == 0 && in.Op != "lea" {
			sizeless = true
		}
	}
	if in.Op == "call" || in.Op == "jmp" {
		for _, a := range in.Args {
			if m, ok := a.(Mem); ok && m.Base == NoReg && m.Index == NoReg && !m.RIP {
				// llvm-mc 16 reads "call [4096]" as a direct call to the
				// address 4096, not as an indirect one through it.
				return nil, errorf(in, "an absolute memory operand of %s is ambiguous (llvm-mc reads it as a direct branch to that address)", in.Op)
			}
		}
	}
	if sizeless && in.Op == "push" {
		return first, nil // llvm-mc 16 takes a sizeless push as qword (the first form)
	}
	if sizeless && in.Op == "pop" {
		// llvm-mc 16 refuses a sizeless pop (it has r/m16 and r/m64
		// forms) though it takes a sizeless push as qword.
		return nil, errorf(in, "ambiguous memory operand size: say word or qword ptr")
	}
	if sizeless {
		// As llvm-mc: a sizeless memory operand must get its size from a
		// register operand, whatever the immediate's value.
		for i := range fs {
			if matches(in.Args, &fs[i], true) && memSize(&fs[i]) != memSize(first) {
				return nil, errorf(in, "ambiguous memory operand size: say byte, word, dword or qword ptr")
			}
		}
	}
	return first, nil
}

// memSize is the size of the form's register-or-memory slot.
func memSize(f *form) uint8 {
	for _, s := range f.args {
		if s.c == cRM {
			return s.sz
		}
	}
	return 0
}

// describe names the operand kinds for an error message.
func describe(args []Operand) string {
	parts := make([]string, len(args))
	for i, a := range args {
		switch a := a.(type) {
		case Reg:
			parts[i] = fmt.Sprintf("r%d", a.Size()*8)
		case Mem:
			if a.Size == 0 {
				parts[i] = "m"
			} else {
				parts[i] = fmt.Sprintf("m%d", a.Size*8)
			}
		case Imm:
			parts[i] = fmt.Sprintf("imm %d", int64(a))
		case Rel:
			parts[i] = fmt.Sprintf("rel%d", a.Size*8)
		}
	}
	return strings.Join(parts, ", ")
}

// matches reports whether args fit f; loose accepts any immediate value.
func matches(args []Operand, f *form, loose bool) bool {
	if len(args) != len(f.args) {
		return false
	}
	for i, s := range f.args {
		if _, isImm := args[i].(Imm); loose && isImm && (s.c == cImm || s.c == cImmS || s.c == cOne) {
			continue
		}
		if !matchSlot(args[i], s, f.osz) {
			return false
		}
	}
	return true
}

func matchSlot(a Operand, s slot, osz uint8) bool {
	switch a := a.(type) {
	case Reg:
		switch s.c {
		case cReg, cRM:
			return a.Size() == int(s.sz)
		case cAcc:
			return a.Size() == int(s.sz) && a.Num() == 0 && !a.IsHigh8()
		case cCL:
			return a == CL
		}
	case Mem:
		switch s.c {
		case cRM:
			return a.Size == 0 || a.Size == int(s.sz)
		case cMem:
			return true
		case cMoffs:
			return a.Base == NoReg && a.Index == NoReg && !a.RIP && (a.Size == 0 || a.Size == int(s.sz))
		}
	case Imm:
		switch s.c {
		case cOne:
			return a == 1
		case cImm:
			return fitsEither(int64(a), s.sz)
		case cImmS:
			if osz == 0 {
				osz = 1
			}
			if !fitsEither(int64(a), osz) {
				return false
			}
			return fitsSigned(truncSigned(int64(a), osz), s.sz)
		}
	case Rel:
		return s.c == cRel && a.Size == int(s.sz)
	}
	return false
}

// fitsEither reports whether v fits n bytes as a signed or an unsigned value.
func fitsEither(v int64, n uint8) bool {
	if n >= 8 {
		return true
	}
	bits := uint(n) * 8
	return v >= -(1<<(bits-1)) && v < 1<<bits
}

// fitsSigned reports whether v fits n bytes as a signed value.
func fitsSigned(v int64, n uint8) bool {
	if n >= 8 {
		return true
	}
	bits := uint(n) * 8
	return v >= -(1<<(bits-1)) && v < 1<<(bits-1)
}

// truncSigned keeps the low n bytes of v and sign-extends them.
func truncSigned(v int64, n uint8) int64 {
	if n >= 8 {
		return v
	}
	shift := 64 - uint(n)*8
	return v << shift >> shift
}

// emit writes the instruction for the chosen form.
func emit(dst []byte, in Inst, f *form) ([]byte, Encoding, error) {
	start := len(dst)
	var (
		regField uint8 // ModRM.reg
		rmOp     Operand
		opReg    Reg // eO register
		immVal   int64
		immSize  int
		rel      *Rel
		rex      byte
		forceREX bool
		high8    Reg
	)
	for i, s := range f.args {
		a := in.Args[i]
		if r, ok := a.(Reg); ok {
			if r.IsHigh8() {
				high8 = r
			}
			if r.needsREX() {
				forceREX = true
			}
		}
		switch s.c {
		case cImm, cImmS, cOne:
			if s.c != cOne {
				immVal, immSize = int64(a.(Imm)), int(s.sz)
			}
			continue
		case cRel:
			r := a.(Rel)
			rel = &r
			continue
		case cMoffs:
			// The 64-bit address, sign-extended from the operand's
			// disp32, in the immediate field.
			immVal, immSize = int64(a.(Mem).Disp), 8
			continue
		case cAcc, cCL:
			continue
		}
		switch f.enc {
		case eO:
			opReg = a.(Reg)
		case eM:
			rmOp = a
		case eRM:
			if i == 0 {
				regField = a.(Reg).Num()
			} else {
				rmOp = a
			}
		case eMR:
			if i == 0 {
				rmOp = a
			} else {
				regField = a.(Reg).Num()
			}
		}
	}
	if f.enc == eM {
		regField = uint8(f.ext)
	}
	if f.osz == 8 && !f.d64 {
		rex |= 0x08
	}
	if regField >= 8 {
		rex |= 0x04
	}
	if opReg != NoReg && opReg.Num() >= 8 {
		rex |= 0x01
	}
	switch m := rmOp.(type) {
	case Reg:
		if m.Num() >= 8 {
			rex |= 0x01
		}
	case Mem:
		if m.Base != NoReg && m.Base.Num() >= 8 {
			rex |= 0x01
		}
		if m.Index != NoReg && m.Index.Num() >= 8 {
			rex |= 0x02
		}
	}
	if rex != 0 || forceREX {
		if high8 != NoReg {
			return dst, Encoding{}, errorf(in, "cannot encode %s in an instruction requiring a REX prefix", high8)
		}
	}

	var e Encoding
	if f.osz == 2 {
		dst = append(dst, 0x66)
	}
	if rex != 0 || forceREX {
		dst = append(dst, 0x40|rex)
	}
	dst = append(dst, f.opc...)
	if f.enc == eO {
		dst[len(dst)-1] += opReg.Num() & 7
	}
	switch m := rmOp.(type) {
	case Reg:
		dst = append(dst, 0xc0|(regField&7)<<3|m.Num()&7)
	case Mem:
		dst, e.Disp = appendMem(dst, start, regField&7, m)
	}
	if rel != nil {
		e.Disp = Field{Off: len(dst) - start, Size: rel.Size}
		dst = appendLE(dst, int64(rel.Disp), rel.Size)
	}
	if immSize != 0 {
		e.Imm = Field{Off: len(dst) - start, Size: immSize}
		dst = appendLE(dst, immVal, immSize)
	}
	return dst, e, nil
}

// appendMem appends ModRM, SIB and displacement for a memory operand.
func appendMem(dst []byte, start int, reg uint8, m Mem) ([]byte, Field) {
	modrm := func(mod, rm uint8) byte { return mod<<6 | reg<<3 | rm }
	var disp Field
	putDisp := func(n int) {
		disp = Field{Off: len(dst) - start, Size: n}
		dst = appendLE(dst, int64(m.Disp), n)
	}
	switch {
	case m.RIP:
		dst = append(dst, modrm(0, 5))
		putDisp(4)
	case m.Base == NoReg:
		index := uint8(4)
		if m.Index != NoReg {
			index = m.Index.Num() & 7
		}
		dst = append(dst, modrm(0, 4), sib(m.Scale, index, 5))
		putDisp(4)
	default:
		base := m.Base.Num() & 7
		var mod uint8
		switch {
		case m.Disp == 0 && base != 5:
			mod = 0
		case m.Disp >= -128 && m.Disp <= 127:
			mod = 1
		default:
			mod = 2
		}
		if m.Index != NoReg || base == 4 {
			index := uint8(4)
			if m.Index != NoReg {
				index = m.Index.Num() & 7
			}
			dst = append(dst, modrm(mod, 4), sib(m.Scale, index, base))
		} else {
			dst = append(dst, modrm(mod, base))
		}
		switch mod {
		case 1:
			putDisp(1)
		case 2:
			putDisp(4)
		}
	}
	return dst, disp
}

func sib(scale, index, base uint8) byte {
	var ss uint8
	switch scale {
	case 2:
		ss = 1
	case 4:
		ss = 2
	case 8:
		ss = 3
	}
	return ss<<6 | index<<3 | base
}

// appendLE appends the low n bytes of v, little-endian.
func appendLE(dst []byte, v int64, n int) []byte {
	for i := 0; i < n; i++ {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}

// Mnemonics returns every mnemonic Encode accepts, sorted, including the
// condition-code spellings (je and jz, cmovb and cmovc, ...).
func Mnemonics() []string {
	ms := make([]string, 0, len(forms))
	for m := range forms {
		ms = append(ms, m)
	}
	slices.Sort(ms)
	return ms
}
