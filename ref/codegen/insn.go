package codegen

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/x86"
)

// insn names one instruction the code generator emits in function bodies.
// A function body is made of a few dozen distinct instructions, differing
// at most in a frame-slot displacement or an immediate, so each is encoded
// once by the x86 encoder (see templates) and its bytes are copied, the
// variable field patched, wherever it is emitted: the same bytes as
// encoding every instruction (TestTemplatesEqualEncoder) without the
// encoder's cost per instruction.
type insn uint8

const (
	iPushRBP insn = iota
	iMovRBPRSP
	iSubRSPFrame // sub rsp, imm32 (the frame size, patched at the end)
	iMovRSPRBP
	iPopRBP
	iRet
	iXorEAXEAX
	iXorEDXEDX
	iTestRAXRAX
	iTestRCXRCX
	iJe // rel32 jumps, the field fixed up when the label is bound
	iJmp
	iJae
	iPushRAX
	iPopRAX
	iPopR11
	iCallR11
	iMovRCXRAX
	iMovRSIRAX
	iMovRAXRDX
	iMovEAXEDX
	iMovRCXGOT // rip-relative loads and leas, relocated
	iMovRAXGOT
	iLeaRAXRIP
	iCallRel32
	iCallGOT
	iMovMemRCXRAX
	iMovRAXMemRAX
	iNegRAX
	iNotRAX
	iAddRAXRCX
	iSubRAXRCX
	iImulRAXRCX
	iAndRAXRCX
	iOrRAXRCX
	iXorRAXRCX
	iShlRAXCL
	iShrRAXCL
	iDivRCX
	iCmpRAXRCX
	iSete
	iSetne
	iSetb
	iSetbe
	iSeta
	iSetae
	iMovzxEAXAL
	iMovEDXMemRCX
	iShrEDX2
	iAddEDX1
	iCmpRAXRDX
	iMovR8DOffPrev
	iMovEDXOff
	iSubEDXR8D
	iSubEDX1
	iCmpRSIRDX
	iAddRCXR8
	iMovzxEAXByte
	iMovEAXImm  // mov eax, imm32 (0 <= v <= 0x7fffffff)
	iMovRAXSImm // mov rax, simm32 (negative values that fit 32 bits)
	iMovabsRAX  // movabs rax, imm64
	iPopArg0    // pop rdi; pop rsi, rdx, rcx follow in order
	_
	_
	_
	iStoreSlot8  // mov qword ptr [rbp + disp8], reg: rax then the argument registers
	iStoreSlot32 = iStoreSlot8 + numSlotRegs
	iLoadSlot8   = iStoreSlot32 + numSlotRegs // mov rax, qword ptr [rbp + disp8]
	iLoadSlot32  = iLoadSlot8 + 1
	numInsns     = iLoadSlot32 + 1
)

// slotRegs are the registers stored into frame slots: RAX, then the
// argument registers; numSlotRegs is their number.
var slotRegs = [...]x86.Reg{x86.RAX, x86.RDI, x86.RSI, x86.RDX, x86.RCX}

const numSlotRegs = 5

// patch says which field of a template is the variable one.
type patch uint8

const (
	fixed     patch = iota
	patchDisp       // the displacement (frame slots; rel32 and relocated fields are left zero)
	patchImm        // the immediate
)

func rip8() x86.Mem { return x86.Mem{RIP: true, Size: 8} }

// shape is an instruction with a placeholder in its variable field; the
// placeholder is in the range of every value the field is given, so the
// encoder picks the same form for all of them.
func shape(id insn) (x86.Inst, patch) {
	in := func(op string, args ...x86.Operand) x86.Inst { return x86.Inst{Op: op, Args: args} }
	switch {
	case id >= iStoreSlot8 && id < iStoreSlot8+numSlotRegs:
		return in("mov", slot(-8), slotRegs[id-iStoreSlot8]), patchDisp
	case id >= iStoreSlot32 && id < iStoreSlot32+numSlotRegs:
		return in("mov", slot(-1024), slotRegs[id-iStoreSlot32]), patchDisp
	}
	switch id {
	case iPushRBP:
		return in("push", x86.RBP), fixed
	case iMovRBPRSP:
		return in("mov", x86.RBP, x86.RSP), fixed
	case iSubRSPFrame:
		return in("sub", x86.RSP, x86.Imm(0x10000)), patchImm
	case iMovRSPRBP:
		return in("mov", x86.RSP, x86.RBP), fixed
	case iPopRBP:
		return in("pop", x86.RBP), fixed
	case iRet:
		return in("ret"), fixed
	case iXorEAXEAX:
		return in("xor", x86.EAX, x86.EAX), fixed
	case iXorEDXEDX:
		return in("xor", x86.EDX, x86.EDX), fixed
	case iTestRAXRAX:
		return in("test", x86.RAX, x86.RAX), fixed
	case iTestRCXRCX:
		return in("test", x86.RCX, x86.RCX), fixed
	case iJe:
		return in("je", x86.Rel{Size: 4}), fixed
	case iJmp:
		return in("jmp", x86.Rel{Size: 4}), fixed
	case iJae:
		return in("jae", x86.Rel{Size: 4}), fixed
	case iPushRAX:
		return in("push", x86.RAX), fixed
	case iPopRAX:
		return in("pop", x86.RAX), fixed
	case iPopR11:
		return in("pop", x86.R11), fixed
	case iCallR11:
		return in("call", x86.R11), fixed
	case iMovRCXRAX:
		return in("mov", x86.RCX, x86.RAX), fixed
	case iMovRSIRAX:
		return in("mov", x86.RSI, x86.RAX), fixed
	case iMovRAXRDX:
		return in("mov", x86.RAX, x86.RDX), fixed
	case iMovEAXEDX:
		return in("mov", x86.EAX, x86.EDX), fixed
	case iMovRCXGOT:
		return in("mov", x86.RCX, rip8()), fixed
	case iMovRAXGOT:
		return in("mov", x86.RAX, rip8()), fixed
	case iLeaRAXRIP:
		return in("lea", x86.RAX, x86.Mem{RIP: true}), fixed
	case iCallRel32:
		return in("call", x86.Rel{Size: 4}), fixed
	case iCallGOT:
		return in("call", rip8()), fixed
	case iMovMemRCXRAX:
		return in("mov", x86.Mem{Base: x86.RCX, Size: 8}, x86.RAX), fixed
	case iMovRAXMemRAX:
		return in("mov", x86.RAX, x86.Mem{Base: x86.RAX, Size: 8}), fixed
	case iNegRAX:
		return in("neg", x86.RAX), fixed
	case iNotRAX:
		return in("not", x86.RAX), fixed
	case iAddRAXRCX:
		return in("add", x86.RAX, x86.RCX), fixed
	case iSubRAXRCX:
		return in("sub", x86.RAX, x86.RCX), fixed
	case iImulRAXRCX:
		return in("imul", x86.RAX, x86.RCX), fixed
	case iAndRAXRCX:
		return in("and", x86.RAX, x86.RCX), fixed
	case iOrRAXRCX:
		return in("or", x86.RAX, x86.RCX), fixed
	case iXorRAXRCX:
		return in("xor", x86.RAX, x86.RCX), fixed
	case iShlRAXCL:
		return in("shl", x86.RAX, x86.CL), fixed // 64-bit shifts take the count mod 64
	case iShrRAXCL:
		return in("shr", x86.RAX, x86.CL), fixed
	case iDivRCX:
		return in("div", x86.RCX), fixed
	case iCmpRAXRCX:
		return in("cmp", x86.RAX, x86.RCX), fixed
	case iSete:
		return in("sete", x86.AL), fixed
	case iSetne:
		return in("setne", x86.AL), fixed
	case iSetb:
		return in("setb", x86.AL), fixed
	case iSetbe:
		return in("setbe", x86.AL), fixed
	case iSeta:
		return in("seta", x86.AL), fixed
	case iSetae:
		return in("setae", x86.AL), fixed
	case iMovzxEAXAL:
		return in("movzx", x86.EAX, x86.AL), fixed
	case iMovEDXMemRCX:
		return in("mov", x86.EDX, x86.Mem{Base: x86.RCX, Size: 4}), fixed
	case iShrEDX2:
		return in("shr", x86.EDX, x86.Imm(2)), fixed // N+1
	case iAddEDX1:
		return in("add", x86.EDX, x86.Imm(1)), fixed // seed 000: N = off[0]/4, one past the offsets
	case iCmpRAXRDX:
		return in("cmp", x86.RAX, x86.RDX), fixed
	case iMovR8DOffPrev:
		return in("mov", x86.R8D, x86.Mem{Base: x86.RCX, Index: x86.RAX, Scale: 4, Disp: -4, Size: 4}), fixed // off[k-1]
	case iMovEDXOff:
		return in("mov", x86.EDX, x86.Mem{Base: x86.RCX, Index: x86.RAX, Scale: 4, Size: 4}), fixed // off[k]
	case iSubEDXR8D:
		return in("sub", x86.EDX, x86.R8D), fixed
	case iSubEDX1:
		return in("sub", x86.EDX, x86.Imm(1)), fixed // length without the NUL
	case iCmpRSIRDX:
		return in("cmp", x86.RSI, x86.RDX), fixed
	case iAddRCXR8:
		return in("add", x86.RCX, x86.R8), fixed
	case iMovzxEAXByte:
		return in("movzx", x86.EAX, x86.Mem{Base: x86.RCX, Index: x86.RSI, Scale: 1, Size: 1}), fixed
	case iMovEAXImm:
		return in("mov", x86.EAX, x86.Imm(0x7fffffff)), patchImm
	case iMovRAXSImm:
		return in("mov", x86.RAX, x86.Imm(-1)), patchImm
	case iMovabsRAX:
		return in("movabs", x86.RAX, x86.Imm(-1)), patchImm
	case iPopArg0, iPopArg0 + 1, iPopArg0 + 2, iPopArg0 + 3:
		return in("pop", argRegs[id-iPopArg0]), fixed
	case iLoadSlot8:
		return in("mov", x86.RAX, slot(-8)), patchDisp
	case iLoadSlot32:
		return in("mov", x86.RAX, slot(-1024)), patchDisp
	}
	panic(fmt.Sprintf("codegen: no shape for instruction %d", id)) // unreachable: every insn below numInsns has a case
}

// withValue is shape(id) with v in its variable field: the instruction
// the template stands for.
func withValue(id insn, v int64) x86.Inst {
	in, p := shape(id)
	args := append([]x86.Operand(nil), in.Args...)
	for i, a := range args {
		switch a := a.(type) {
		case x86.Mem:
			if p == patchDisp {
				a.Disp = int32(v)
				args[i] = a
			}
		case x86.Imm:
			if p == patchImm {
				args[i] = x86.Imm(v)
			}
		}
	}
	return x86.Inst{Op: in.Op, Args: args}
}

// tmpl is an encoded instruction: its bytes, and where its displacement
// and immediate are (Size 0: absent).
type tmpl struct {
	b         [15]byte
	n         uint8
	patch     patch
	disp, imm x86.Field
}

// tmpls holds every insn encoded, and the recommended nops of 1 to 15
// bytes.
type tmpls struct {
	insns [numInsns]tmpl
	nops  [16][]byte
}

// setccInsn is the setcc of each comparison.
var setccInsn = map[ir.Op]insn{
	ir.OpEq: iSete, ir.OpNe: iSetne,
	ir.OpLt: iSetb, ir.OpLe: iSetbe, ir.OpGt: iSeta, ir.OpGe: iSetae,
}

// templates encodes every insn once per process with the x86 encoder.
var templates = sync.OnceValues(func() (*tmpls, error) {
	var t tmpls
	for k := 1; k < len(t.nops); k++ {
		b, err := x86.Nop(k)
		if err != nil {
			return nil, err
		}
		t.nops[k] = b
	}
	for id := range numInsns {
		in, p := shape(id)
		e, err := x86.Encode(in)
		if err != nil {
			return nil, fmt.Errorf("codegen: instruction template %d: %w", id, err)
		}
		tm := tmpl{patch: p, disp: e.Disp, imm: e.Imm}
		tm.n = uint8(copy(tm.b[:], e.Bytes))
		t.insns[id] = tm
		if p == patchDisp && e.Disp.Size == 0 || p == patchImm && e.Imm.Size == 0 {
			return nil, fmt.Errorf("codegen: instruction template %s has no field to patch", in)
		}
	}
	return &t, nil
})

// put appends instruction id with v in its variable field (ignored for a
// fixed instruction) and returns the offset of its first byte.
func (g *fn) put(id insn, v int64) int {
	start := len(g.code)
	if g.encodeEach {
		// The reference path: every instruction through the encoder.
		e, err := x86.Encode(withValue(id, v))
		if err == nil && (e.Disp != g.tm.insns[id].disp || e.Imm != g.tm.insns[id].imm) {
			err = fmt.Errorf("%s: fields %v %v, the template's %v %v", withValue(id, v), e.Disp, e.Imm, g.tm.insns[id].disp, g.tm.insns[id].imm)
		}
		if err != nil {
			if g.err == nil {
				g.err = err
			}
			return start
		}
		g.code = append(g.code, e.Bytes...)
		return start
	}
	t := &g.tm.insns[id]
	g.code = append(g.code, t.b[:t.n]...)
	switch t.patch {
	case patchDisp:
		putField(g.code[start+t.disp.Off:], v, t.disp.Size)
	case patchImm:
		putField(g.code[start+t.imm.Off:], v, t.imm.Size)
	}
	return start
}

// putField writes the low n bytes of v, little-endian.
func putField(b []byte, v int64, n int) {
	switch n {
	case 1:
		b[0] = byte(v)
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	case 8:
		binary.LittleEndian.PutUint64(b, uint64(v))
	default:
		for i := range n {
			b[i] = byte(v >> (8 * i))
		}
	}
}
