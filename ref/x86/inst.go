package x86

import (
	"fmt"
	"strconv"
	"strings"
)

// Operand is one operand of an instruction: a Reg, a Mem, an Imm or a Rel.
type Operand interface {
	isOperand()
	String() string
}

// Mem is a memory operand [Base + Index*Scale + Disp]. With RIP set it is
// RIP-relative ([rip + Disp], no Base or Index); with neither Base nor RIP it
// is an absolute disp32 address (encoded through a SIB byte, as llvm-mc does).
type Mem struct {
	Base, Index Reg   // 64-bit registers or NoReg
	Scale       uint8 // 1, 2, 4 or 8 with an Index; 0 means 1
	Disp        int32
	RIP         bool
	Size        int // operand size in bytes: 1, 2, 4, 8; 0 = taken from the other operand
}

// Imm is an immediate operand. Values are accepted when they fit the
// immediate field either signed or unsigned at the operation's size, as
// llvm-mc does (so "add eax, 0xffffffff" is "add eax, -1").
type Imm int64

// Rel is a branch displacement relative to the end of the instruction,
// encoded in Size bytes (1 or 4).
type Rel struct {
	Disp int32
	Size int
}

func (Reg) isOperand() {}
func (Mem) isOperand() {}
func (Imm) isOperand() {}
func (Rel) isOperand() {}

// Inst is one instruction: a lowercase mnemonic and its operands in Intel
// order (destination first).
type Inst struct {
	Op   string
	Args []Operand
}

var sizePtr = map[int]string{1: "byte ptr ", 2: "word ptr ", 4: "dword ptr ", 8: "qword ptr "}

// String returns the memory operand in Intel syntax, e.g.
// "qword ptr [rbx + 4*rcx - 8]", "dword ptr [rip + 16]", "byte ptr [4096]".
func (m Mem) String() string {
	var b strings.Builder
	b.WriteString(sizePtr[m.Size])
	b.WriteString(m.addr())
	return b.String()
}

// addr is the bracketed address without a size keyword.
func (m Mem) addr() string {
	var b strings.Builder
	b.WriteByte('[')
	terms := 0
	if m.RIP {
		b.WriteString("rip")
		terms++
	}
	if m.Base != NoReg {
		if terms > 0 {
			b.WriteString(" + ")
		}
		b.WriteString(m.Base.String())
		terms++
	}
	if m.Index != NoReg {
		if terms > 0 {
			b.WriteString(" + ")
		}
		scale := m.Scale
		if scale == 0 {
			scale = 1
		}
		b.WriteString(strconv.Itoa(int(scale)))
		b.WriteByte('*')
		b.WriteString(m.Index.String())
		terms++
	}
	switch {
	case terms == 0:
		b.WriteString(strconv.FormatInt(int64(m.Disp), 10))
	case m.Disp > 0:
		b.WriteString(" + ")
		b.WriteString(strconv.FormatInt(int64(m.Disp), 10))
	case m.Disp < 0:
		b.WriteString(" - ")
		b.WriteString(strconv.FormatUint(uint64(-int64(m.Disp)), 10))
	}
	b.WriteByte(']')
	return b.String()
}

// String returns the immediate in decimal.
func (i Imm) String() string { return strconv.FormatInt(int64(i), 10) }

// String describes the displacement, e.g. "rel8(-2)" (relative to the end
// of the instruction); Inst.String prints branches in a form llvm-mc accepts.
func (r Rel) String() string { return fmt.Sprintf("rel%d(%d)", r.Size*8, r.Disp) }

// String returns the instruction in Intel syntax that both Parse and
// llvm-mc (-x86-asm-syntax=intel) accept. A branch with a Rel operand is
// printed against a numeric local label defined on the instruction itself,
// "1: jmp 1b+7", whose offset is counted from the start of the instruction;
// a rel32 jmp or jcc gets the {disp32} pseudo-prefix so that llvm-mc does
// not pick the short form.
func (in Inst) String() string {
	var b strings.Builder
	if len(in.Args) == 1 {
		if r, ok := in.Args[0].(Rel); ok {
			n := branchLen(in.Op, r.Size)
			b.WriteString("1: ")
			if r.Size == 4 && in.Op != "call" {
				b.WriteString("{disp32} ")
			}
			b.WriteString(in.Op)
			off := int64(r.Disp) + int64(n)
			switch {
			case off > 0:
				fmt.Fprintf(&b, " 1b+%d", off)
			case off < 0:
				fmt.Fprintf(&b, " 1b-%d", -off)
			default:
				b.WriteString(" 1b")
			}
			return b.String()
		}
	}
	b.WriteString(in.Op)
	for i, a := range in.Args {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(", ")
		}
		if a == nil {
			b.WriteString("<nil>")
			continue
		}
		if m, ok := a.(Mem); ok && in.Op == "lea" {
			b.WriteString(m.addr())
			continue
		}
		b.WriteString(a.String())
	}
	return b.String()
}

// branchLen is the length of a relative branch: 2 for rel8 forms, 5 for
// call/jmp rel32, 6 for jcc rel32.
func branchLen(op string, size int) int {
	if size == 1 {
		return 2
	}
	if op == "call" || op == "jmp" {
		return 5
	}
	return 6
}
