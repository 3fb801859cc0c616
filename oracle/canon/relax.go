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
func (d *x86Func) relaxedGOTImm(it *item, inst *x86asm.Inst, next, siteAddr uint64, site obj.RelocKind, hasSite bool) bool {
	if inst.Op != x86asm.MOV || inst.Args[2] != nil {
		return false
	}
	reg, ok := inst.Args[0].(x86asm.Reg)
	if !ok {
		return false
	}
	if m, ok := inst.Args[1].(x86asm.Mem); ok {
		return d.gotLoad32(it, reg, m, inst, next, site, hasSite)
	}
	imm, ok := inst.Args[1].(x86asm.Imm)
	if !ok || !hasSite || site != obj.GOTLoad32 || siteAddr+4 != next {
		return false
	}
	target := uint64(imm)
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
	d.f.args = append(d.f.args, operand{kind: opReg, base: reg}, operand{kind: opRef, ref: d.sy.symRef(target, d.f)})
	it.nargs = 2
	return true
}

// gotLoad32 canonicalizes `mov r32, dword ptr [rip+slot]` through a GOT
// slot as `lea r32, foo ; via got`.
func (d *x86Func) gotLoad32(it *item, reg x86asm.Reg, m x86asm.Mem, inst *x86asm.Inst, next uint64, site obj.RelocKind, hasSite bool) bool {
	if m.Base != x86asm.RIP || m.Index != 0 || inst.MemBytes != 4 || reg < x86asm.EAX || reg > x86asm.R15L {
		return false
	}
	slot := next + uint64(int64(int32(m.Disp)))
	if !d.sy.isGOTSlot(slot, site, hasSite) {
		return false
	}
	val, ok := d.sy.word(slot)
	if !ok {
		return false // x86.go notes it
	}
	it.op, it.via = opKey{op: x86asm.LEA}, viaGOT
	it.target, it.hasRef = slot, true
	d.f.args = append(d.f.args, operand{kind: opReg, base: reg}, operand{kind: opRef, ref: d.sy.symRef(val, d.f)})
	it.nargs = 2
	return true
}
