package fuzz

import (
	"bytes"
	"errors"
	"testing"

	gofuzz "github.com/google/gofuzz"
	"github.com/linkcheck/linkcheck/ref/x86"
	"github.com/linkcheck/linkcheck/ref/x86/judge"
)

// fuzzOperand is the raw material of one operand; Kind picks which of the
// fields are used.
type fuzzOperand struct {
	Kind         uint8 // mod 4: register, memory, immediate, branch displacement
	Reg          uint8 // register number (mod the register count, 0 = NoReg)
	Base, Index  uint8
	Scale        uint8
	Disp         int32
	SmallDisp    bool // use int8(Disp) to reach disp8 and disp 0 often
	RIP          bool
	Size         uint8 // memory size selector: 0, 1, 2, 4, 8 (others invalid)
	Imm          int64
	SmallImm     bool // use int8(Imm)
	RelSize      uint8
	NoBaseOrZero bool // clear the base (absolute addressing) or the displacement
}

// fuzzInst is what gofuzz fills from the fuzzer's bytes.
type fuzzInst struct {
	Op   uint16
	N    uint8
	Args [3]fuzzOperand
}

const numRegs = 69 // NoReg + 68 registers

func (o fuzzOperand) operand() x86.Operand {
	switch o.Kind % 4 {
	case 0:
		return x86.Reg(o.Reg % numRegs)
	case 1:
		m := x86.Mem{
			Base:  x86.Reg(o.Base % numRegs),
			Index: x86.Reg(o.Index % numRegs),
			Scale: o.Scale % 10,
			Disp:  o.Disp,
			RIP:   o.RIP && o.Index&1 == 0,
			Size:  int(o.Size % 10),
		}
		// Bias towards valid memory operands: 64-bit base and index.
		if o.Scale&0x80 == 0 {
			if m.Base != x86.NoReg {
				m.Base = x86.RAX + m.Base%16
			}
			if m.Index != x86.NoReg {
				m.Index = x86.RAX + m.Index%16
			}
			m.Scale = []uint8{0, 1, 2, 4, 8}[o.Scale%5]
			if m.Index == x86.NoReg {
				m.Scale = 0
			}
			if m.RIP {
				m.Base, m.Index, m.Scale = x86.NoReg, x86.NoReg, 0
			}
			m.Size = []int{0, 1, 2, 4, 8}[o.Size%5]
		}
		if o.SmallDisp {
			m.Disp = int32(int8(o.Disp))
		}
		if o.NoBaseOrZero {
			if o.Disp&1 == 0 {
				m.Base = x86.NoReg
			} else {
				m.Disp = 0
			}
		}
		return m
	case 2:
		if o.SmallImm {
			return x86.Imm(int8(o.Imm))
		}
		return x86.Imm(o.Imm)
	default:
		size := 4
		if o.RelSize%3 == 0 {
			size = 1
		} else if o.RelSize%7 == 6 {
			size = int(o.RelSize) // usually invalid
		}
		return x86.Rel{Disp: o.Disp, Size: size}
	}
}

// FuzzEncode turns the fuzzer's bytes into an instruction (mnemonic,
// operand kinds, registers, sizes, scale, displacement, immediate). The
// encoder must either reject it with an error or produce bytes that x86asm
// decodes to exactly that instruction with nothing left over; the reported
// fields must hold the operands' values, Parse(String()) must give the same
// bytes, and Asm.Emit must agree with Encode.
func FuzzEncode(f *testing.F) {
	for _, seed := range [][]byte{
		{}, {0}, []byte("mov rax, qword ptr [rbp]"), []byte("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"),
		bytes.Repeat([]byte{0xff}, 64), bytes.Repeat([]byte{0x41, 0x07}, 40),
		// Regression: a rel8 branch with a displacement out of range was encoded.
		[]byte("zBb1\x05y3x00000000007a000000000000000100000"),
	} {
		f.Add(seed)
	}
	mnemonics := x86.Mnemonics()
	f.Fuzz(func(t *testing.T, data []byte) {
		var fi fuzzInst
		gofuzz.NewFromGoFuzz(data).NilChance(0).Fuzz(&fi)
		in := x86.Inst{Op: mnemonics[int(fi.Op)%len(mnemonics)]}
		for i := 0; i < int(fi.N%4); i++ {
			in.Args = append(in.Args, fi.Args[i].operand())
		}
		e, err := x86.Encode(in)
		if err != nil {
			if !errors.Is(err, x86.ErrInvalid) {
				t.Fatalf("%s: error does not wrap ErrInvalid: %v", in, err)
			}
			return
		}
		if err := judge.Decode(in, e.Bytes); err != nil {
			t.Fatal(err)
		}
		checkFields(t, in, e)
		back, err := x86.Parse(in.String())
		if err != nil {
			t.Fatalf("%s: Parse(String()) failed: %v", in, err)
		}
		e2, err := x86.Encode(back)
		if err != nil || !bytes.Equal(e2.Bytes, e.Bytes) {
			t.Fatalf("%s: re-parsed as %s: % x, %v; want % x", in, back, e2.Bytes, err, e.Bytes)
		}
		var a x86.Asm
		if _, err := a.Emit(x86.Inst{Op: "nop"}); err != nil {
			t.Fatal(err)
		}
		e3, err := a.Emit(in)
		if err != nil || !bytes.Equal(e3.Bytes, e.Bytes) || shift(e.Disp) != e3.Disp || shift(e.Imm) != e3.Imm {
			t.Fatalf("%s: Asm.Emit %+v, %v; Encode %+v", in, e3, err, e)
		}
	})
}

// shift moves a present field one byte on (behind the leading nop).
func shift(f x86.Field) x86.Field {
	if f.Size != 0 {
		f.Off++
	}
	return f
}

// checkFields checks that the displacement and immediate fields lie inside
// the bytes and hold the operands' values.
func checkFields(t *testing.T, in x86.Inst, e x86.Encoding) {
	t.Helper()
	read := func(f x86.Field) uint64 {
		if f.Off < 0 || f.Off+f.Size > len(e.Bytes) {
			t.Fatalf("%s: field %+v outside % x", in, f, e.Bytes)
		}
		var v uint64
		for i := f.Size - 1; i >= 0; i-- {
			v = v<<8 | uint64(e.Bytes[f.Off+i])
		}
		return v
	}
	mask := func(n int) uint64 {
		if n >= 8 {
			return ^uint64(0)
		}
		return 1<<(8*uint(n)) - 1
	}
	for _, a := range in.Args {
		switch a := a.(type) {
		case x86.Mem:
			if e.Disp.Size == 0 {
				if a.Disp != 0 {
					t.Fatalf("%s: disp %d but no disp field", in, a.Disp)
				}
			} else if read(e.Disp) != uint64(int64(a.Disp))&mask(e.Disp.Size) {
				t.Fatalf("%s: disp field %+v does not hold %d", in, e.Disp, a.Disp)
			}
		case x86.Rel:
			if e.Disp.Size != a.Size || read(e.Disp) != uint64(int64(a.Disp))&mask(a.Size) {
				t.Fatalf("%s: rel field %+v does not hold %d", in, e.Disp, a.Disp)
			}
		case x86.Imm:
			if e.Imm.Size == 0 {
				if a != 1 {
					t.Fatalf("%s: immediate %d but no imm field", in, a)
				}
			} else if read(e.Imm) != uint64(a)&mask(e.Imm.Size) {
				t.Fatalf("%s: imm field %+v does not hold %d", in, e.Imm, a)
			}
		}
	}
}
