// Package judge checks an x86 encoding against an independent decoder,
// golang.org/x/arch/x86/x86asm: the bytes must decode, with nothing left
// over, to exactly the instruction that was encoded (same operation,
// operands, operand size and length), and carry no prefix the decoder
// considers ignored or invalid.
package judge

import (
	"fmt"
	"strings"

	"github.com/linkcheck/linkcheck/ref/x86"
	"golang.org/x/arch/x86/x86asm"
)

// Decode decodes b as one 64-bit instruction and checks that it is in and
// uses all of b.
func Decode(in x86.Inst, b []byte) error {
	d, err := x86asm.Decode(b, 64)
	if err != nil {
		return fmt.Errorf("judge: %s: x86asm cannot decode % x: %v", in, b, err)
	}
	if d.Len != len(b) {
		return fmt.Errorf("judge: %s: x86asm decodes % x as %d bytes (%s), %d left over", in, b, d.Len, x86asm.IntelSyntax(d, 0, nil), len(b)-d.Len)
	}
	if err := Equal(in, d); err != nil {
		return fmt.Errorf("judge: %s: % x: %w", in, b, err)
	}
	return nil
}

// Equal reports how the decoded instruction d differs from in, or nil.
func Equal(in x86.Inst, d x86asm.Inst) error {
	for _, p := range d.Prefix {
		if p == 0 {
			break
		}
		if p&(x86asm.PrefixIgnored|x86asm.PrefixInvalid) != 0 {
			return fmt.Errorf("prefix %v is ignored or invalid", p)
		}
	}
	wantOp, ok := opName(in.Op)
	if !ok {
		return fmt.Errorf("no x86asm operation for %q", in.Op)
	}
	if d.Op.String() != wantOp {
		return fmt.Errorf("operation %s, want %s (decoded %s)", d.Op, wantOp, x86asm.IntelSyntax(d, 0, nil))
	}
	want := in.Args
	if in.Op == "int3" {
		want = []x86.Operand{x86.Imm(3)}
	}
	n := 0
	for n < len(d.Args) && d.Args[n] != nil {
		n++
	}
	if n != len(want) {
		return fmt.Errorf("%d operands, want %d (decoded %s)", n, len(want), x86asm.IntelSyntax(d, 0, nil))
	}
	width := opWidth(in, d)
	for i, w := range want {
		if err := equalArg(w, d.Args[i], width, d); err != nil {
			return fmt.Errorf("operand %d: %w (decoded %s)", i+1, err, x86asm.IntelSyntax(d, 0, nil))
		}
	}
	return nil
}

// opWidth is the width in bits at which immediates are compared.
func opWidth(in x86.Inst, d x86asm.Inst) uint {
	switch in.Op {
	case "shl", "sal", "shr", "sar":
		return 8
	case "ret":
		return 16
	case "push", "movabs":
		return 64
	}
	for _, a := range in.Args {
		switch a := a.(type) {
		case x86.Reg:
			return uint(a.Size()) * 8
		case x86.Mem:
			if a.Size != 0 {
				return uint(a.Size) * 8
			}
			return uint(d.MemBytes) * 8
		}
	}
	return 64
}

func equalArg(w x86.Operand, g x86asm.Arg, width uint, d x86asm.Inst) error {
	switch w := w.(type) {
	case x86.Reg:
		gr, ok := g.(x86asm.Reg)
		if !ok || gr.String() != regName(w) {
			return fmt.Errorf("got %v, want register %s", g, w)
		}
	case x86.Mem:
		gm, ok := g.(x86asm.Mem)
		if !ok {
			return fmt.Errorf("got %v, want memory %s", g, w)
		}
		var want x86asm.Mem
		switch {
		case w.RIP:
			want.Base = x86asm.RIP
		case w.Base != x86.NoReg:
			want.Base = asmReg(w.Base)
		}
		if w.Index != x86.NoReg {
			want.Index = asmReg(w.Index)
			want.Scale = w.Scale
			if want.Scale == 0 {
				want.Scale = 1
			}
		}
		want.Disp = int64(w.Disp)
		got := gm
		got.Disp = int64(int32(got.Disp)) // x86asm keeps rip-relative disp32 unsigned
		if got.Index == 0 {
			got.Scale = 0
		}
		if got != want {
			return fmt.Errorf("got memory %+v, want %+v", gm, want)
		}
		if w.Size != 0 && d.MemBytes != w.Size && d.Op != x86asm.LEA {
			return fmt.Errorf("memory operand of %d bytes, want %d", d.MemBytes, w.Size)
		}
	case x86.Imm:
		gi, ok := g.(x86asm.Imm)
		if !ok {
			return fmt.Errorf("got %v, want immediate %d", g, int64(w))
		}
		mask := ^uint64(0)
		if width < 64 {
			mask = 1<<width - 1
		}
		if uint64(gi)&mask != uint64(w)&mask {
			return fmt.Errorf("immediate %#x, want %#x (%d-bit)", uint64(gi)&mask, uint64(w)&mask, width)
		}
	case x86.Rel:
		gr, ok := g.(x86asm.Rel)
		if !ok || int32(gr) != w.Disp {
			return fmt.Errorf("got %v, want rel %d", g, w.Disp)
		}
		if d.PCRel != w.Size {
			return fmt.Errorf("rel field of %d bytes, want %d", d.PCRel, w.Size)
		}
	default:
		return fmt.Errorf("unsupported operand %T", w)
	}
	return nil
}

// regName is the x86asm spelling of a register ("R8L" for r8d, "R8B").
func regName(r x86.Reg) string {
	n := strings.ToUpper(r.String())
	switch r {
	case x86.SPL, x86.BPL, x86.SIL, x86.DIL:
		return n[:2] + "B"
	}
	if r.Size() == 4 && strings.HasPrefix(n, "R") {
		n = strings.TrimSuffix(n, "D") + "L"
	}
	return n
}

func asmReg(r x86.Reg) x86asm.Reg {
	name := regName(r)
	for g := x86asm.Reg(1); g < 200; g++ {
		if g.String() == name {
			return g
		}
	}
	return 0
}

// condNames maps every condition-code spelling to x86asm's.
var condNames = map[string]string{
	"o": "O", "no": "NO", "b": "B", "c": "B", "nae": "B", "ae": "AE", "nb": "AE", "nc": "AE",
	"e": "E", "z": "E", "ne": "NE", "nz": "NE", "be": "BE", "na": "BE", "a": "A", "nbe": "A",
	"s": "S", "ns": "NS", "p": "P", "pe": "P", "np": "NP", "po": "NP",
	"l": "L", "nge": "L", "ge": "GE", "nl": "GE", "le": "LE", "ng": "LE", "g": "G", "nle": "G",
}

// opName returns x86asm's operation name for a mnemonic.
func opName(op string) (string, bool) {
	switch op {
	case "movabs":
		return "MOV", true
	case "sal":
		return "SHL", true
	case "int3":
		return "INT", true
	}
	for _, p := range []string{"cmov", "set", "j"} {
		if cc, ok := strings.CutPrefix(op, p); ok && op != "jmp" {
			if n, ok := condNames[cc]; ok {
				return strings.ToUpper(p) + n, true
			}
		}
	}
	return strings.ToUpper(op), op != ""
}
