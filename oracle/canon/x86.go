package canon

import (
	"fmt"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// The x86_64 decoder: golang.org/x/arch's x86asm, and what x86_64
// linkers write into code — GOT loads (`mov r64, [rip+slot]`) and their
// relaxation to `lea`, calls through a GOT slot, PLT-style stubs
// (`jmp [rip+slot]`), trampolines (`jmp rel32`) and inter-function fill.

// x86_64 is the decoder of x86_64 code.
type x86_64 struct{}

// x86Func is the state of decoding one function.
type x86Func struct {
	sy    symbolizer
	fn    *Symbol
	size  uint64         // the function's extent
	index map[uint64]int // instruction index by address
}

func (x86_64) decode(s *Symbol, code []byte, sy symbolizer) {
	type decoded struct {
		inst x86asm.Inst
		ok   bool
	}
	var raw []decoded
	for off := 0; off < len(code); {
		inst, err := x86asm.Decode(code[off:], 64)
		dec := decoded{inst: inst, ok: err == nil && inst.Len > 0}
		if !dec.ok {
			dec.inst = x86asm.Inst{Len: 1}
		}
		raw = append(raw, dec)
		s.Insns = append(s.Insns, Insn{Off: uint64(off), Len: dec.inst.Len, addr: s.addr + uint64(off)})
		off += dec.inst.Len
	}
	if s.SizeInferred {
		// Trim the fill a linker puts between functions without st_size.
		n := len(s.Insns)
		for n > 0 && raw[n-1].ok && isFill(raw[n-1].inst, code[s.Insns[n-1].Off:s.Insns[n-1].Off+uint64(s.Insns[n-1].Len)]) {
			n--
		}
		if n < len(s.Insns) {
			s.Padding = uint64(len(code)) - s.Insns[n].Off
			s.Size -= s.Padding
			s.Insns, raw = s.Insns[:n], raw[:n]
		}
	}
	d := &x86Func{sy: sy, fn: s, size: uint64(len(code)), index: make(map[uint64]int, len(s.Insns))}
	for i := range s.Insns {
		d.index[s.Insns[i].addr] = i
	}
	for i := range s.Insns {
		in := &s.Insns[i]
		if !raw[i].ok {
			in.Op = "(bad)"
			in.Args = []string{fmt.Sprintf("%#02x", code[in.Off])}
			continue
		}
		d.canonInsn(in, raw[i].inst)
	}
}

// isFill reports whether an instruction is inter-function fill: nop, int3,
// or the zero bytes that decode as `add [rax], al`.
func isFill(inst x86asm.Inst, b []byte) bool {
	switch inst.Op {
	case x86asm.NOP, x86asm.INT:
		return inst.Op == x86asm.NOP || len(b) == 1 && b[0] == 0xcc
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// canonInsn fills in's Op, Args and Via from the decoded instruction.
func (d *x86Func) canonInsn(in *Insn, inst x86asm.Inst) {
	next := in.addr + uint64(in.Len)
	in.Op = opName(inst)
	siteAddr, site := d.sy.siteIn(in.addr, in.Len)
	absSite := site == obj.Abs64.String() || site == obj.Abs32.String() || site == obj.Abs32S.String()
	// An absolute field is the immediate when it ends the instruction and
	// there is one (the immediate follows any displacement), else the
	// displacement of a non-RIP memory operand.
	immSite := false
	if absSite {
		width := uint64(4)
		if site == obj.Abs64.String() {
			width = 8
		}
		for _, a := range inst.Args {
			if _, ok := a.(x86asm.Imm); ok && siteAddr+width == next {
				immSite = true
			}
		}
	}
	for _, a := range inst.Args {
		if a == nil {
			break
		}
		switch a := a.(type) {
		case x86asm.Reg:
			in.Args = append(in.Args, regName(a))
		case x86asm.Imm:
			if immSite {
				// A relocation says this immediate is an address.
				v := uint64(a)
				if site == obj.Abs32.String() {
					v &= 0xffffffff
				}
				in.Args = append(in.Args, "&"+d.sy.symbolizeField(siteAddr, v))
				continue
			}
			in.Args = append(in.Args, fmt.Sprintf("%#x", int64(a)))
		case x86asm.Rel:
			target := next + uint64(int64(a))
			in.target, in.hasRef = target, true
			name, via := d.branchTarget(target)
			in.Args = append(in.Args, name)
			in.Via = via
		case x86asm.Mem:
			in.Args = append(in.Args, d.memArg(in, inst, a, next, siteAddr, site, absSite && !immSite))
		default:
			in.Args = append(in.Args, strings.ToLower(fmt.Sprint(a)))
		}
	}
}

// opName is the lower-case mnemonic with a lock or rep prefix, if any.
func opName(inst x86asm.Inst) string {
	op := strings.ToLower(inst.Op.String())
	for _, p := range inst.Prefix {
		if p == 0 {
			break
		}
		if p&(x86asm.PrefixImplicit|x86asm.PrefixIgnored) != 0 {
			continue
		}
		switch p &^ (x86asm.PrefixImplicit | x86asm.PrefixIgnored | x86asm.PrefixInvalid) {
		case x86asm.PrefixLOCK:
			op = "lock " + op
		case x86asm.PrefixREP:
			op = "rep " + op
		case x86asm.PrefixREPN:
			op = "repne " + op
		}
	}
	return op
}

var memSize = map[int]string{1: "byte", 2: "word", 4: "dword", 8: "qword", 10: "tbyte", 16: "xmmword", 32: "ymmword"}

// memArg writes a memory operand. A RIP-relative operand is written by its
// target; a load through a GOT slot rewrites the instruction (see
// canonInsn and the package comment).
func (d *x86Func) memArg(in *Insn, inst x86asm.Inst, m x86asm.Mem, next, siteAddr uint64, site string, absDisp bool) string {
	size := memSize[inst.MemBytes]
	if size != "" {
		size += " ptr "
	}
	if m.Base == x86asm.RIP {
		// x86asm leaves a RIP-relative disp32 zero-extended.
		target := next + uint64(int64(int32(m.Disp)))
		in.target, in.hasRef = target, true
		if d.sy.isGOTSlot(target, site) {
			val, ok := d.sy.word(target)
			if !ok {
				d.sy.note("GOT slot %#x has no contents", target)
				return size + fmt.Sprintf("[got(?%#x)]", target)
			}
			final := d.sy.symbolize(val)
			switch {
			case inst.Op == x86asm.MOV && inst.MemBytes == 8 && len(in.Args) == 1 && isReg64(inst.Args[0]):
				// mov r64, [rip+GOT(f)] is lea r64, [rip+f] seen through.
				in.Op, in.Via = "lea", ViaGOT
				return final
			case inst.Op == x86asm.CALL || inst.Op == x86asm.JMP:
				in.Via = ViaGOT
				return d.seeThrough(val, final)
			}
			return size + "[got(" + final + ")]"
		}
		sym := d.sy.symbolize(target)
		if inst.Op == x86asm.LEA {
			return sym
		}
		return size + "[" + sym + "]"
	}
	var parts []string
	if m.Segment != 0 {
		parts = append(parts, strings.ToLower(m.Segment.String())+":")
	}
	var inner []string
	if m.Base != 0 {
		inner = append(inner, regName(m.Base))
	}
	if m.Index != 0 {
		inner = append(inner, fmt.Sprintf("%s*%d", regName(m.Index), m.Scale))
	}
	if absDisp {
		// A relocation says the displacement is an address (R_X86_64_32S
		// in `jmp [8*rcx + table]`, `mov [8*rbx + array], rbx`).
		v := uint64(int64(int32(m.Disp)))
		if site == obj.Abs32.String() {
			v &= 0xffffffff
		}
		inner = append(inner, "&"+d.sy.symbolizeField(siteAddr, v))
	} else if m.Disp != 0 || len(inner) == 0 {
		inner = append(inner, fmt.Sprintf("%#x", m.Disp))
	}
	return size + strings.Join(parts, "") + "[" + strings.Join(inner, "+") + "]"
}

// seeThrough names the final function a call or jmp through a slot
// reaches, following trampolines at the slot's value.
func (d *x86Func) seeThrough(addr uint64, name string) string {
	if final, _, _, ok := d.follow(addr); ok {
		return final
	}
	return name
}

// branchTarget names the target of a relative branch: an instruction of
// the same function ("@3"), a symbol's start, or, seen through stubs and
// trampolines, the final symbol.
func (d *x86Func) branchTarget(target uint64) (name, via string) {
	fn := d.fn
	inside := func(addr uint64) (string, bool) {
		if addr-fn.addr >= d.size {
			return "", false
		}
		if i, ok := d.index[addr]; ok {
			return fmt.Sprintf("@%d", i), true
		}
		return fmt.Sprintf("%s+%#x", fn.Name, addr-fn.addr), true
	}
	if n, ok := inside(target); ok {
		return n, ""
	}
	if name, ok := d.sy.startOf(target); ok {
		return name, ""
	}
	if final, via, addr, ok := d.follow(target); ok {
		// Seen through, a branch back into the same function (a recursive
		// call through a trampoline) is the same as the direct branch.
		if n, ok := inside(addr); ok {
			return n, via
		}
		return final, via
	}
	return d.sy.symbolize(target), ""
}

// follow walks an indirection chain from addr — a `jmp rel` that is not at
// a symbol's start (a trampoline), or a `jmp [rip+slot]` (a stub) — to a
// symbol's start. It reports the first hop's kind.
func (d *x86Func) follow(addr uint64) (name, via string, final uint64, ok bool) {
	for hop := 0; hop < maxChain; hop++ {
		if name, ok := d.sy.startOf(addr); ok {
			return name, via, addr, true
		}
		b := d.sy.codeAt(addr)
		if b == nil {
			return "", "", 0, false
		}
		if len(b) > 15 {
			b = b[:15]
		}
		inst, err := x86asm.Decode(b, 64)
		if err != nil || inst.Op != x86asm.JMP {
			if hop > 0 {
				// The chain ends at code that is no symbol's start.
				return d.sy.symbolize(addr), via, addr, true
			}
			return "", "", 0, false
		}
		next := addr + uint64(inst.Len)
		switch a := inst.Args[0].(type) {
		case x86asm.Rel:
			if via == "" {
				via = ViaTrampoline
			}
			addr = next + uint64(int64(a))
		case x86asm.Mem:
			if a.Base != x86asm.RIP || a.Index != 0 {
				return "", "", 0, false
			}
			val, ok := d.sy.word(next + uint64(int64(int32(a.Disp))))
			if !ok {
				return "", "", 0, false
			}
			if via == "" {
				via = ViaStub
			}
			addr = val
		default:
			return "", "", 0, false
		}
	}
	d.sy.note("indirection chain at %#x longer than %d hops", addr, maxChain)
	return "", "", 0, false
}

func isReg64(a x86asm.Arg) bool {
	r, ok := a.(x86asm.Reg)
	return ok && r >= x86asm.RAX && r <= x86asm.R15
}

// regName is a register's Intel name. x86asm names the 32-bit halves of
// r8..r15 in Plan 9 style (R8L); Intel syntax, and llvm-objdump, say r8d.
func regName(r x86asm.Reg) string {
	switch {
	case r >= x86asm.R8L && r <= x86asm.R15L:
		return fmt.Sprintf("r%dd", 8+int(r-x86asm.R8L))
	case r >= x86asm.X0 && r <= x86asm.X15:
		return fmt.Sprintf("xmm%d", int(r-x86asm.X0))
	case r >= x86asm.M0 && r <= x86asm.M7:
		return fmt.Sprintf("mm%d", int(r-x86asm.M0))
	}
	return strings.ToLower(r.String())
}
