package canon

import (
	"fmt"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// The compact form of a decoded function. Decoding a function yields
// items, not strings: an item is one instruction, or a run of identical
// one-byte fill instructions (int3, nop), with its operation as a number
// and its operands as small structs naming symbols by the strings the
// image already holds. Text (Insn.Op, Insn.Args, Insn.Text) is built only
// when an instruction is printed, materialized into an Image (Read), or
// when two instructions differ structurally and their texts must be
// compared (SameInsn). Equal structures always render to equal text;
// the converse is checked on the text, so comparing compact forms is
// exactly comparing canonical text.

// Func is one function's instructions in compact form, filled by
// Image.Decode (or by Read, which materializes it into Symbol.Insns). A
// Func is a reusable buffer: decoding into it again reuses its memory, so
// that a caller walking a program function by function holds memory for
// the largest function only. The zero value is ready to use.
type Func struct {
	name    string
	addr    uint64
	code    []byte
	raw     []rawInsn
	items   []item
	args    []operand
	n       int // instructions (runs counted in full)
	padding uint64
	// notes collects what could not be canonicalized, at most maxNotes;
	// dropped counts the rest. With discard set nothing is formatted.
	notes   []string
	dropped int
	discard bool
	// memo holds the instructions decoded into f so far, by their bytes
	// (kept across decodes: it refers to no image).
	memo *insnMemo
	// own holds a copy of code in a Func a DecodeCache keeps.
	own []byte
	// inferred is whether the function's size was inferred (its
	// trailing fill trimmed).
	inferred bool
	// nonLocal and localRefs index the items that are not local and
	// the local ones with a target, when listed (x86_64.update).
	nonLocal, localRefs []int32
	listed              bool
}

// rawInsn is one decoded position: an instruction, a run of n identical
// one-byte fill instructions, or an undecodable byte (ok false, len 1).
// It holds no pointers: copying decodings (the cache, hints) is a plain
// copy of memory, and the collector does not scan them.
type rawInsn struct {
	off uint64
	idx int // index of its (first) instruction, after trimming
	// from is 1 + the index of the hint's entry this one was taken
	// from, 0 when decoded here.
	from int
	n    uint32
	ok   bool
	// What canonicalization uses of x86asm's Inst (the rest, 200 bytes
	// in all, is not kept): the operation with its lock/rep prefixes
	// (opKey), the operands, the memory operand's size and the length;
	// and where its PC-relative field lies (x86asm's PCRelOff and PCRel,
	// pcrel 0 when it has none), for reusing a decoding whose bytes
	// differ only there (rawDecode).
	len      uint8
	pcrelOff uint8
	pcrel    uint8
	memBytes int32
	op       opKey
	args     [len(x86asm.Args{})]rawArg
}

// rawArg is one of x86asm's operands (x86asm.Arg) without the interface:
// a register, a memory operand, an immediate or a relative branch
// offset, the only argument types x86asm has.
type rawArg struct {
	kind uint8 // argNone ends the operands
	// seg, base, index and scale are a memory operand's addressing;
	// base is the register of an argReg.
	seg, base, index x86asm.Reg
	scale            uint8
	val              int64 // x86asm.Imm, x86asm.Rel, Mem.Disp
}

// Kinds of rawArg.
const (
	argNone uint8 = iota
	argReg
	argMem
	argImm
	argRel
)

// setInst keeps what canonicalization uses of inst.
func (r *rawInsn) setInst(inst *x86asm.Inst) {
	r.len, r.memBytes, r.op = uint8(inst.Len), int32(inst.MemBytes), opKeyOf(inst)
	r.pcrelOff, r.pcrel = uint8(inst.PCRelOff), uint8(inst.PCRel)
	r.args = [len(x86asm.Args{})]rawArg{}
	for i, a := range inst.Args {
		if a == nil {
			break
		}
		r.args[i] = rawArgOf(a)
	}
}

// rawArgOf is x86asm's operand a in compact form.
func rawArgOf(a x86asm.Arg) rawArg {
	switch a := a.(type) {
	case x86asm.Reg:
		return rawArg{kind: argReg, base: a}
	case x86asm.Mem:
		return rawArg{kind: argMem, seg: a.Segment, base: a.Base, index: a.Index, scale: a.Scale, val: a.Disp}
	case x86asm.Imm:
		return rawArg{kind: argImm, val: int64(a)}
	case x86asm.Rel:
		return rawArg{kind: argRel, val: int64(a)}
	}
	// x86asm.Arg is sealed: these four types are all there are.
	panic(fmt.Sprintf("canon: x86asm argument of type %T", a))
}

// mem is a memory operand's x86asm form.
func (a *rawArg) mem() x86asm.Mem {
	return x86asm.Mem{Segment: a.seg, Base: a.base, Scale: a.scale, Index: a.index, Disp: a.val}
}

// item is one canonical instruction, or a run of n identical ones at
// consecutive offsets (len bytes each).
type item struct {
	off    uint64
	target uint64 // branch target or RIP-relative address, when hasRef
	n      uint32
	arg0   int // index of the first operand in Func.args
	op     opKey
	len    uint8
	nargs  uint8
	via    uint8
	hasRef bool
	// pure marks an instruction whose canonical form depends on its
	// bytes alone: no pointer site in it, no branch target, no
	// RIP-relative operand.
	pure bool
	// local marks one whose canonical form depends on its bytes and the
	// function's own instructions alone: pure but for branches to an
	// instruction of the same function (or inside it), named without
	// the image. Its target moves with the function.
	local bool
}

// opKey identifies an instruction's canonical mnemonic: x86asm's
// operation and the lock/rep/repne prefixes in order (2 bits each), or
// opBad.
type opKey struct {
	op  x86asm.Op
	pfx uint32
}

// opBad is the operation of an undecodable byte, "(bad)".
var opBad = opKey{op: ^x86asm.Op(0)}

// Via codes in item.via.
const (
	viaNone uint8 = iota
	viaGOT
	viaStub
	viaTrampoline
)

var viaNames = [...]string{viaNone: "", viaGOT: ViaGOT, viaStub: ViaStub, viaTrampoline: ViaTrampoline}

func viaCode(via string) uint8 {
	switch via {
	case ViaGOT:
		return viaGOT
	case ViaStub:
		return viaStub
	case ViaTrampoline:
		return viaTrampoline
	}
	return viaNone
}

// ref is a symbolic name for an address, as an operand shows it.
type ref struct {
	kind uint8
	name string
	off  int64
}

// Kinds of ref.
const (
	refNone    uint8 = iota
	refSym           // name, name+0x8, name-0x4 (withOffset)
	refUnknown       // ?0x401000 (off is the address)
	refIndex         // @3: an instruction of the same function
	refInside        // f+0x5: inside the same function, at no instruction start
	refTPOff         // tpoff(x+0x4): a thread-pointer offset naming a TLS variable; tpoff(?-0x10) (off the offset) when none
)

func (r ref) String() string {
	switch r.kind {
	case refSym:
		return withOffset(r.name, r.off)
	case refUnknown:
		return fmt.Sprintf("?%#x", uint64(r.off))
	case refIndex:
		return fmt.Sprintf("@%d", r.off)
	case refInside:
		return fmt.Sprintf("%s+%#x", r.name, uint64(r.off))
	case refTPOff:
		if r.name == "" {
			return "tpoff(?" + withOffset("", r.off) + ")"
		}
		return "tpoff(" + withOffset(r.name, r.off) + ")"
	}
	return ""
}

// operand is one canonical operand.
type operand struct {
	kind uint8
	// mem is the memory operand's size in bytes (x86asm MemBytes);
	// seg, base, index and scale its addressing; base is the register of
	// an operand of kind opReg.
	mem              uint16
	seg, base, index x86asm.Reg
	scale            uint8
	val              int64 // immediate, displacement, GOT slot address, bad byte
	ref              ref   // the symbolic target; for opMem an address displacement (&sym)
}

// Kinds of operand.
const (
	opReg     uint8 = iota + 1
	opImm           // 0x10
	opAbsImm        // &sym: an immediate a relocation says is an address
	opRef           // sym: a branch target, lea's address, a GOT slot seen through
	opMem           // size ptr seg:[base+index*scale+disp] (disp &sym when ref is set)
	opMemRIP        // size ptr [sym]
	opGOT           // size ptr [got(sym)]
	opGOTNone       // size ptr [got(?0x...)]: the slot has no contents
	opBadByte       // 0xcc: the byte of an undecodable instruction
	opText          // an operand type x86asm does not have today: ref.name is its text
)

// memSizeName is the size keyword of a memory operand, "" when none.
func memSizeName(n uint16) string {
	if s := memSize(int(n)); s != "" {
		return s + " ptr "
	}
	return ""
}

// String renders the operand exactly as canonical text.
func (o *operand) String() string {
	switch o.kind {
	case opReg:
		return regName(o.base)
	case opImm:
		return fmt.Sprintf("%#x", o.val)
	case opAbsImm:
		if o.ref.kind == refTPOff {
			return o.ref.String()
		}
		return "&" + o.ref.String()
	case opRef:
		return o.ref.String()
	case opMemRIP:
		return memSizeName(o.mem) + "[" + o.ref.String() + "]"
	case opGOT:
		return memSizeName(o.mem) + "[got(" + o.ref.String() + ")]"
	case opGOTNone:
		return memSizeName(o.mem) + fmt.Sprintf("[got(?%#x)]", uint64(o.val))
	case opBadByte:
		return fmt.Sprintf("%#02x", o.val)
	case opText:
		return o.ref.name
	case opMem:
		var b strings.Builder
		b.WriteString(memSizeName(o.mem))
		if o.seg != 0 {
			b.WriteString(strings.ToLower(o.seg.String()))
			b.WriteString(":")
		}
		b.WriteByte('[')
		n := 0
		if o.base != 0 {
			b.WriteString(regName(o.base))
			n++
		}
		if o.index != 0 {
			if n > 0 {
				b.WriteByte('+')
			}
			fmt.Fprintf(&b, "%s*%d", regName(o.index), o.scale)
			n++
		}
		switch {
		case o.ref.kind == refTPOff:
			if n > 0 {
				b.WriteByte('+')
			}
			b.WriteString(o.ref.String())
		case o.ref.kind != refNone:
			if n > 0 {
				b.WriteByte('+')
			}
			b.WriteString("&" + o.ref.String())
		case o.val != 0 || n == 0:
			if n > 0 {
				b.WriteByte('+')
			}
			fmt.Fprintf(&b, "%#x", o.val)
		}
		b.WriteByte(']')
		return b.String()
	}
	return ""
}

// Len returns the number of instructions.
func (f *Func) Len() int { return f.n }

// Padding returns the trailing fill trimmed from a function whose size
// was inferred, in bytes.
func (f *Func) Padding() uint64 { return f.padding }

// Notes returns what could not be canonicalized while decoding (at most
// a bounded number, then a count of the rest).
func (f *Func) Notes() []string {
	if f.dropped == 0 {
		return f.notes
	}
	return append(f.notes[:len(f.notes):len(f.notes)], fmt.Sprintf("(%d more notes dropped)", f.dropped))
}

func (f *Func) note(format string, args ...any) {
	if f.discard || len(f.notes) >= maxNotes {
		f.dropped++
		return
	}
	f.notes = append(f.notes, fmt.Sprintf(format, args...))
}

// Clear drops f's references to the image it was decoded from (its
// bytes and names), keeping its buffers for the next Decode.
func (f *Func) Clear() {
	f.reset("", 0, nil)
	clear(f.args[:cap(f.args)])
	clear(f.raw[:cap(f.raw)])
}

// take makes f g's decoding with bytes of its own (Func.own): a
// decoding a DecodeCache keeps. It exchanges their buffers, g left with
// f's old ones to decode into again (copying the decoding was 7% of the
// checked update loop's CPU), except when f has none yet: then the
// decoding is copied into buffers of its size, and g keeps its own.
func (f *Func) take(g *Func) {
	f.name, f.addr, f.n, f.padding, f.dropped, f.discard, f.inferred = g.name, g.addr, g.n, g.padding, g.dropped, g.discard, g.inferred
	f.own = append(f.own[:0], g.code...)
	f.code = nil
	if g.code != nil {
		f.code = f.own
	}
	if cap(f.raw) == 0 {
		f.raw = append(f.raw[:0], g.raw...)
		f.items = append(f.items[:0], g.items...)
		f.args = append(f.args[:0], g.args...)
	} else {
		f.raw, g.raw = g.raw, f.raw[:0]
		f.items, g.items = g.items, f.items[:0]
		f.args, g.args = g.args, f.args[:0]
	}
	clear(f.notes)
	f.notes = append(f.notes[:0], g.notes...)
	f.listed = false
}

// copyOf makes f a copy of g's decoding, with bytes of its own
// (Func.own) and f's buffers.
func (f *Func) copyOf(g *Func) {
	f.name, f.addr, f.n, f.padding, f.dropped, f.discard, f.inferred = g.name, g.addr, g.n, g.padding, g.dropped, g.discard, g.inferred
	f.own = append(f.own[:0], g.code...)
	f.code = f.own
	f.raw = append(f.raw[:0], g.raw...)
	f.items = append(f.items[:0], g.items...)
	f.args = append(f.args[:0], g.args...)
	clear(f.notes)
	f.notes = append(f.notes[:0], g.notes...)
	f.nonLocal = append(f.nonLocal[:0], g.nonLocal...)
	f.localRefs = append(f.localRefs[:0], g.localRefs...)
	f.listed = g.listed
}

// reset empties f for decoding the function name at addr, with room for
// code's instructions at about 3 bytes each (x86_64 code averages 3 to 4),
// so that a large function does not grow its buffers by doubling.
func (f *Func) reset(name string, addr uint64, code []byte) {
	f.name, f.addr, f.code = name, addr, code
	f.raw, f.items, f.args = f.raw[:0], f.items[:0], f.args[:0]
	if want := len(code)/3 + 8; cap(f.raw) < want {
		f.raw = make([]rawInsn, 0, want)
		f.items = make([]item, 0, want)
		f.args = make([]operand, 0, 2*want)
	}
	f.n, f.padding, f.inferred, f.listed = 0, 0, false, false
	clear(f.notes)
	f.notes, f.dropped = f.notes[:0], 0
}

// opText is an item's mnemonic.
func (it *item) opText() string {
	if it.op == opBad {
		return "(bad)"
	}
	return opString(it.op)
}

// insn materializes the j-th instruction of item it.
func (f *Func) insn(it *item, j int) Insn {
	in := Insn{Off: it.off + uint64(j)*uint64(it.len), Len: int(it.len), Op: it.opText(), Via: viaNames[it.via]}
	in.addr = f.addr + in.Off
	in.target, in.hasRef = it.target, it.hasRef
	if it.nargs > 0 {
		in.Args = make([]string, it.nargs)
		for k := range in.Args {
			in.Args[k] = f.args[it.arg0+k].String()
		}
	}
	return in
}

// Insns materializes every instruction (Symbol.Insns' form).
func (f *Func) Insns() []Insn {
	if f.n == 0 {
		return nil
	}
	out := make([]Insn, 0, f.n)
	for i := range f.items {
		it := &f.items[i]
		for j := 0; j < int(it.n); j++ {
			out = append(out, f.insn(it, j))
		}
	}
	return out
}

// sameOp reports whether two items have the same mnemonic text.
func sameOp(x, y *item) bool {
	return x.op == y.op || x.opText() == y.opText()
}

// sameArgs reports whether two items' operands have the same text.
func sameArgs(fa *Func, x *item, fb *Func, y *item) bool {
	if x.nargs != y.nargs {
		return false
	}
	ax := fa.args[x.arg0 : x.arg0+int(x.nargs)]
	ay := fb.args[y.arg0 : y.arg0+int(y.nargs)]
	for k := range ax {
		if ax[k] != ay[k] && ax[k].String() != ay[k].String() {
			return false
		}
	}
	return true
}

// CodeDiff is an instruction index at which two functions differ, with
// both instructions; OpDiffers tells a different operation (text.insn)
// from the same operation with different operands (text.operand).
type CodeDiff struct {
	Index     int
	A, B      Insn
	OpDiffers bool
}

// CompareCode compares the first min(a.Len(), b.Len()) instructions of
// two decoded functions index by index, by their canonical text (Op and
// Args; Via is not compared), and calls each for every index at which
// they differ, in index order. It returns the number of instructions
// compared and the bytes they cover (the shorter length of each pair).
// Runs of fill on both sides are compared as one step; text is built only
// for the instructions reported.
func CompareCode(a, b *Func, each func(CodeDiff)) (insns int, bytes uint64) {
	n := min(a.n, b.n)
	ia, ib := 0, 0 // items
	ja, jb := 0, 0 // instructions into them
	for k := 0; k < n; {
		x, y := &a.items[ia], &b.items[ib]
		step := 1
		if x.n > 1 && y.n > 1 {
			step = min(int(x.n)-ja, int(y.n)-jb, n-k)
		}
		insns += step
		bytes += uint64(step) * uint64(min(x.len, y.len))
		switch {
		case !sameOp(x, y):
			for s := 0; s < step; s++ {
				each(CodeDiff{Index: k + s, A: a.insn(x, ja+s), B: b.insn(y, jb+s), OpDiffers: true})
			}
		case !sameArgs(a, x, b, y):
			for s := 0; s < step; s++ {
				each(CodeDiff{Index: k + s, A: a.insn(x, ja+s), B: b.insn(y, jb+s)})
			}
		}
		k += step
		if ja += step; ja == int(x.n) {
			ia, ja = ia+1, 0
		}
		if jb += step; jb == int(y.n) {
			ib, jb = ib+1, 0
		}
	}
	return insns, bytes
}
