package canon

import (
	"golang.org/x/arch/x86/x86asm"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// GOT loads relaxed to an immediate. In a non-PIC link GNU ld rewrites
// `mov r64, [rip+foo@GOTPCREL]` (R_X86_64_REX_GOTPCRELX) into
// `mov r/m64, imm32` (48 c7 c0+r), and `mov r32, [rip+foo@GOTPCREL]`
// (R_X86_64_GOTPCRELX) into `mov r32, imm32`, when foo's address fits in
// the immediate; ld.lld and the reference linker relax the same loads to
// `lea r, [rip+foo]` instead. All load foo's address into r: the same
// reference, so canon writes each as lld's form, `lea r, foo`.
//
// A 32-bit load from a GOT slot, `mov r32, dword ptr [rip+slot]` (what
// `movl foo@GOTPCREL(%rip), %ecx` becomes in a linker that keeps the slot,
// as mold and gold do for some symbols), loads the low half of foo's
// address: it is `lea r32, foo` seen through the slot, as the 64-bit load
// is (x86.go).
//
// Only a field that an input relocation of the relaxable GOT-load kind
// (obj.GOTLoad32) marks, and that is the instruction's last four bytes
// (the imm32 sits where the disp32 was), is taken for a relaxed load; the
// immediate is then named as an address like any relocated field. Without
// the input objects there is no such mark and the `mov` stays as it is.

// relaxedGOTImm canonicalizes it when inst is such a relaxed load, or a
// 32-bit load from a GOT slot, and reports whether it did.
func (d *x86Func) relaxedGOTImm(it *item, r *rawInsn, next, siteAddr uint64, site obj.RelocKind, hasSite bool) bool {
	if r.op.op != x86asm.MOV || r.args[2].kind != argNone || r.args[0].kind != argReg {
		return false
	}
	reg := r.args[0].base
	if m := &r.args[1]; m.kind == argMem {
		return d.gotLoad32(it, reg, m, r, next, site, hasSite)
	}
	if r.args[1].kind != argImm || !hasSite || site != obj.GOTLoad32 || siteAddr+4 != next {
		return false
	}
	target := uint64(r.args[1].val)
	switch {
	case reg >= x86asm.RAX && reg <= x86asm.R15:
		// imm32 sign-extended to 64 bits, as x86asm already holds it.
	case reg >= x86asm.EAX && reg <= x86asm.R15L:
		target &= 0xffffffff
	default:
		return false
	}
	it.op = opKey{op: x86asm.LEA}
	it.target, it.hasRef = target, true
	*d.args = append(*d.args, operand{kind: opReg, base: reg}, operand{kind: opRef, ref: d.sy.symRef(target, d.f)})
	it.nargs = 2
	return true
}

// gotLoad32 canonicalizes `mov r32, dword ptr [rip+slot]` through a GOT
// slot as `lea r32, foo ; via got`.
func (d *x86Func) gotLoad32(it *item, reg x86asm.Reg, m *rawArg, r *rawInsn, next uint64, site obj.RelocKind, hasSite bool) bool {
	if m.base != x86asm.RIP || m.index != 0 || r.memBytes != 4 || reg < x86asm.EAX || reg > x86asm.R15L {
		return false
	}
	slot := next + uint64(int64(int32(m.val)))
	if !d.sy.isGOTSlot(slot, site, hasSite) {
		return false
	}
	val, ok := d.sy.word(slot)
	if !ok {
		return false // x86.go notes it
	}
	it.op, it.via = opKey{op: x86asm.LEA}, viaGOT
	it.target, it.hasRef = slot, true
	*d.args = append(*d.args, operand{kind: opReg, base: reg}, operand{kind: opRef, ref: d.sy.symRef(val, d.f)})
	it.nargs = 2
	return true
}
