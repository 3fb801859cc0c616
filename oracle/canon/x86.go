package canon

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
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

// x86Func is the state of canonicalizing one function.
type x86Func struct {
	sy    symbolizer
	f     *Func
	size  uint64 // the function's extent
	sites siteCursor
	// args is where canonInsn appends an instruction's operands: f.args
	// when decoding, update's scratch when canonicalizing again.
	args *[]operand
}

// Fill bytes decoded in runs: each is a whole one-byte instruction
// whatever follows it (x86asm decodes 0xcc as `int 3` and 0x90 as `nop`
// from the first byte alone; TestFillDecode checks it).
var (
	int3Inst, _ = x86asm.Decode([]byte{0xcc}, 64)
	nopInst, _  = x86asm.Decode([]byte{0x90}, 64)
)

func (x86_64) decode(f *Func, inferred bool, sy symbolizer, hint *Func, cache *DecodeCache) {
	if !cache.lookup(f) {
		if hint == nil {
			hint = cache.previous(f)
		}
		if rawDecode(f, hint) > 0 {
			// Taken wholly from the hint, the decoding is that of a
			// function the cache has or the other image holds: storing
			// it would cost more than patching it from the hint again.
			cache.store(f)
		}
	}
	code := f.code
	raw := f.raw
	if inferred {
		// Trim the fill a linker puts between functions without st_size.
		n := len(raw)
		for n > 0 && raw[n-1].ok && isFill(raw[n-1].op.op, code[raw[n-1].off:raw[n-1].off+uint64(raw[n-1].n)*uint64(raw[n-1].len)]) {
			n--
		}
		if n < len(raw) {
			f.padding = uint64(len(code)) - raw[n].off
			raw = raw[:n]
		}
	}
	d := &x86Func{sy: sy, f: f, size: uint64(len(code)), sites: sy.sitesFrom(f.addr), args: &f.args}
	for i := range raw {
		raw[i].idx = f.n
		f.n += int(raw[i].n)
	}
	f.raw = raw
	for i := range raw {
		r := &raw[i]
		it := item{off: r.off, n: r.n, len: r.len, arg0: len(f.args)}
		if !r.ok {
			it.op, it.len = opBad, 1
			f.args = append(f.args, operand{kind: opBadByte, val: int64(code[r.off])})
			it.nargs = 1
		} else if hi := pureFrom(hint, r); hi != nil && !d.sites.has(f.addr+r.off, int(r.len)) {
			// The same bytes as the hint's, which did not depend on
			// where they are, and no pointer site here either: the
			// same canonical instruction.
			it = *hi
			it.arg0 = len(f.args)
			f.args = append(f.args, hint.args[hi.arg0:hi.arg0+int(hi.nargs)]...)
		} else {
			it.op = r.op
			d.canonInsn(&it, r)
		}
		f.items = append(f.items, it)
	}
}

// update is decode's shortcut for a function decoded before (a
// DecodeCache's kept decoding, or the other image's decoding of the
// symbol): when code has f's instruction boundaries — it differs from
// f's bytes only inside instructions that decode, at the same offsets,
// to instructions of the same lengths — decoding it, hint or not, gives
// f's instructions with those replaced, and the same fill to trim. An
// instruction whose bytes differ only inside its PC-relative field (f
// moved, or what it refers to did) is patched (TestPCRelPatch); one
// whose other bytes differ (an immediate, a register) is decoded again
// where it is, and kept only when it ends where the old one did and is
// no fill (a fill byte there would start a run; zero bytes at the end
// would be trimmed). The items that depend on where they are, that
// were replaced, or that a pointer site of this image now lies in, are
// canonicalized again; the others (item.local: bytes and the function's
// own instructions alone decide them) stay. Notes are made again as
// decode makes them, in order.
func (x86_64) update(f *Func, code []byte, addr uint64, sy symbolizer, p *patchScratch) (ok, changed bool) {
	old := f.code
	p.reset()
	// First find the entries to patch, changing nothing.
	i := 0
	for off := 0; off < len(code); {
		off += firstDiff(code[off:], old[off:])
		if off >= len(code) {
			break
		}
		// The items (one per entry of f.raw, smaller) are walked.
		for i < len(f.items) && f.items[i].off+uint64(f.items[i].n)*uint64(f.items[i].len) <= uint64(off) {
			i++
		}
		if i == len(f.items) || f.items[i].off > uint64(off) {
			p.reset() // in the trimmed fill
			return false, false
		}
		r := &f.raw[i]
		end := int(r.off) + int(r.len)
		if !r.ok || r.n != 1 || r.op.op == 0 || !recognizedBefore(f.raw, i, off) {
			p.reset()
			return false, false
		}
		if !samePCRel(r, code[r.off:end], old[r.off:end]) {
			nr, ok := redecodeAt(code, int(r.off), int(r.len), f.memo)
			if !ok {
				p.reset()
				return false, false
			}
			nr.idx = r.idx
			p.raw = append(p.raw, nr)
			p.full = append(p.full, int32(i))
		}
		p.idx = append(p.idx, int32(i))
		off = end
	}
	nfull := 0
	for k, i := range p.idx {
		r := &f.raw[i]
		if nfull < len(p.full) && p.full[nfull] == i {
			*r = p.raw[nfull]
			nfull++
			continue
		}
		if !r.patchPCRel(code[r.off : r.off+uint64(r.len)]) {
			p.idx = p.idx[:k+1] // patched halfway
			return false, false
		}
	}
	copy(f.code, code)
	delta := addr - f.addr
	f.addr = addr
	clear(f.notes)
	f.notes, f.dropped = f.notes[:0], 0
	sites := sy.sitesFrom(addr)
	// The update's state lives in p, kept with f: no allocation.
	u := &p.u
	*u = itemUpdate{d: x86Func{sy: sy, f: f, size: uint64(len(code)), sites: sites}}
	u.args = u.buf[:0]
	u.d.args = &u.args
	defer u.clear()
	if !f.listed {
		f.listItems()
	}
	if !sitesOutsideLocal(f, sites, addr, uint64(len(code)), p.idx) {
		u.all(sites, delta, p.idx)
		return true, u.changed
	}
	// No pointer site in a local item: only the others, and those
	// patched, are canonicalized again, in order; the local items with
	// a target move with the function.
	for _, j := range f.localRefs {
		f.items[j].target += delta
	}
	nl, pi := f.nonLocal, p.idx
	for len(nl) > 0 || len(pi) > 0 {
		var j int32
		switch {
		case len(pi) == 0 || len(nl) > 0 && nl[0] < pi[0]:
			j, nl = nl[0], nl[1:]
		case len(nl) == 0 || pi[0] < nl[0]:
			j, pi = pi[0], pi[1:]
		default: // both
			j, nl, pi = nl[0], nl[1:], pi[1:]
		}
		u.item(int(j))
	}
	return true, u.changed
}

// sitesOutsideLocal reports whether every pointer site of the function
// f (from the cursor sites on, in [addr, addr+size)) lies in an item
// that is not local or that patched (sorted indices) names, so that no
// local item needs canonicalizing again for a site.
func sitesOutsideLocal(f *Func, sites siteCursor, addr, size uint64, patched []int32) bool {
	nl := f.nonLocal
	for i := sites.i; i < len(sites.list) && sites.list[i].addr-addr < size && sites.list[i].addr >= addr; i++ {
		off := sites.list[i].addr - addr
		for len(nl) > 0 && f.items[nl[0]].off+uint64(f.items[nl[0]].len) <= off {
			nl = nl[1:]
		}
		for len(patched) > 0 && f.items[patched[0]].off+uint64(f.items[patched[0]].len) <= off {
			patched = patched[1:]
		}
		if len(nl) > 0 && f.items[nl[0]].off <= off || len(patched) > 0 && f.items[patched[0]].off <= off {
			continue
		}
		return false
	}
	return true
}

// itemUpdate canonicalizes items of an updated function again.
type itemUpdate struct {
	d       x86Func
	changed bool // an operation or operand changed
	// args receives an item's operands (d.args), from buf: compared
	// with the item's and written over them only when they differ.
	args []operand
	buf  [4]operand
}

// clear drops u's references to the image and the function.
func (u *itemUpdate) clear() {
	u.d = x86Func{}
	clear(u.buf[:])
	u.args = nil
}

// all walks every item: those that are not local, that were patched
// (sorted indices) or that a pointer site lies in are canonicalized
// again, the others moved by delta.
func (u *itemUpdate) all(pure siteCursor, delta uint64, patched []int32) {
	f := u.d.f
	for j := range f.items {
		it := &f.items[j]
		if it.op == opBad {
			continue // an undecodable byte
		}
		repatched := len(patched) > 0 && int(patched[0]) == j
		if repatched {
			patched = patched[1:]
		}
		if it.local && !repatched && !pure.has(f.addr+it.off, int(it.len)) {
			// Bytes alone decide it (pure), or they and the function's
			// own instructions do (a branch inside it): the same bytes,
			// the same instructions, the same canonical form; a branch
			// target moved with the function.
			if it.hasRef {
				it.target += delta
			}
			continue
		}
		u.item(j)
	}
}

// item canonicalizes item j again. Items are canonicalized in order.
func (u *itemUpdate) item(j int) {
	f := u.d.f
	it := &f.items[j]
	r := &f.raw[j]
	nit := item{off: r.off, n: r.n, len: r.len, op: r.op}
	u.args = u.args[:0]
	u.d.canonInsn(&nit, r)
	old := f.args[it.arg0 : it.arg0+int(it.nargs)]
	same := slices.Equal(old, u.args)
	if nit.op != it.op || !same {
		u.changed = true
	}
	if nit.local != it.local || nit.hasRef != it.hasRef {
		f.listed = false
	}
	switch {
	case len(u.args) != len(old):
		// Another instruction (decoded again): its operands go after
		// the others.
		nit.arg0 = len(f.args)
		f.args = append(f.args, u.args...)
	case !same:
		copy(old, u.args)
		fallthrough
	default:
		nit.arg0 = it.arg0
	}
	if nit != *it {
		*it = nit
	}
}

// listItems lists f's items for update: those that are not local
// (f.nonLocal), and the local ones with a target (f.localRefs).
func (f *Func) listItems() {
	f.nonLocal, f.localRefs = f.nonLocal[:0], f.localRefs[:0]
	for j := range f.items {
		switch it := &f.items[j]; {
		case it.op == opBad:
		case !it.local:
			f.nonLocal = append(f.nonLocal, int32(j))
		case it.hasRef:
			f.localRefs = append(f.localRefs, int32(j))
		}
	}
	f.listed = true
}

// recognizedBefore reports whether the entries of raw before i whose
// decoding may have read the byte at off are recognized instructions or
// fill runs: x86asm's decoding of those depends on their own bytes
// alone (TestDecodePrefixProperty, TestFillDecode), but an undecodable
// byte's, or an instruction's without an operation, may depend on the
// bytes after it, up to an instruction's longest.
func recognizedBefore(raw []rawInsn, i, off int) bool {
	for j := i - 1; j >= 0 && int(raw[j].off)+maxInsnLen > off; j-- {
		if r := &raw[j]; r.n == 1 && (!r.ok || r.op.op == 0) {
			return false
		}
	}
	return true
}

// maxInsnLen is the longest x86_64 instruction, in bytes.
const maxInsnLen = 15

// patchScratch is update's scratch space: the entries it patches (idx,
// ascending), and of them those decoded again (full, with their new
// decodings in raw).
type patchScratch struct {
	idx  []int32
	full []int32
	raw  []rawInsn
	u    itemUpdate
}

func (p *patchScratch) reset() {
	p.idx, p.full, p.raw = p.idx[:0], p.full[:0], p.raw[:0]
}

// redecodeAt decodes the instruction at off in code as rawDecode would
// there (the memo, else x86asm), and reports whether it is one rawDecode
// would make of length l: recognized, not starting a fill run, not fill
// itself.
func redecodeAt(code []byte, off, l int, memo *insnMemo) (rawInsn, bool) {
	var r rawInsn
	if c := code[off]; c == 0xcc || c == 0x90 {
		return r, false
	}
	if !memo.find(code[off:], &r) {
		inst, err := x86asm.Decode(code[off:], 64)
		if err != nil || inst.Len != l {
			return r, false
		}
		r.setInst(&inst)
	}
	r.off, r.n, r.ok = uint64(off), 1, true
	if int(r.len) != l || r.op.op == 0 || isFill(r.op.op, code[off:off+l]) {
		return r, false
	}
	return r, true
}

// firstDiff returns the offset of the first byte where a and b (of equal
// length) differ, len(a) when none does.
func firstDiff(a, b []byte) int {
	i := 0
	for ; i+8 <= len(a); i += 8 {
		if binary.LittleEndian.Uint64(a[i:]) != binary.LittleEndian.Uint64(b[i:]) {
			break
		}
	}
	for ; i < len(a) && a[i] == b[i]; i++ {
	}
	return i
}

// pureFrom returns the hint's item that raw entry r was taken from, when
// that item is pure.
func pureFrom(hint *Func, r *rawInsn) *item {
	if hint == nil || r.from == 0 || r.from > len(hint.items) {
		return nil
	}
	if hi := &hint.items[r.from-1]; hi.pure && hi.off == r.off && hi.n == 1 {
		return hi
	}
	return nil
}

// maxRun bounds the instructions of one fill run entry.
const maxRun = 1 << 30

// rawDecode decodes f.code into f.raw. Runs of int3 and nop bytes become
// one entry each. An instruction whose bytes equal those of an
// instruction of hint at the same offset is taken from hint instead of
// decoded again: x86asm's result for a recognized instruction (Op set)
// depends only on the bytes it consumed. So is one whose bytes differ
// from the hint's only inside its PC-relative field, with that operand
// patched (samePCRel): in a relink every function after an edit moves,
// and with it the displacements of its calls and RIP-relative operands.
// It returns the number of instructions not taken from hint.
func rawDecode(f *Func, hint *Func) (fresh int) {
	code := f.code
	var hraw []rawInsn
	if hint != nil {
		hraw = hint.raw
	}
	h, off := 0, 0
	if len(hraw) > 0 && len(hint.code) == len(code) && bytes.Equal(hint.code, code) {
		// The same bytes (the symbol unchanged since the hint's
		// decoding): all of the hint's entries, and after them the fill
		// its trimming left out.
		f.raw = append(f.raw, hraw...)
		for i := range hraw {
			f.raw[len(f.raw)-len(hraw)+i].from = i + 1
		}
		last := &hraw[len(hraw)-1]
		h, off = len(hraw), int(last.off)+int(last.n)*int(last.len)
	}
	for off < len(code) {
		if c := code[off]; c == 0xcc || c == 0x90 {
			var r rawInsn
			r, off = fillRun(code, off)
			f.raw = append(f.raw, r)
			continue
		}
		for h < len(hraw) && hraw[h].off < uint64(off) {
			h++
		}
		if h < len(hraw) {
			if hr := &hraw[h]; hr.off == uint64(off) && hr.n == 1 && hr.ok && hr.op.op != 0 {
				l := int(hr.len)
				if off+l <= len(code) && off+l <= len(hint.code) {
					cur, old := code[off:off+l], hint.code[off:off+l]
					if bytes.Equal(cur, old) {
						f.raw = append(f.raw, *hr)
						f.raw[len(f.raw)-1].from = h + 1
						off += l
						continue
					}
					if samePCRel(hr, cur, old) {
						// The same instruction at another distance from
						// what it refers to (it or its target moved).
						f.raw = append(f.raw, *hr)
						r := &f.raw[len(f.raw)-1]
						r.from = 0
						if r.patchPCRel(cur) {
							off += l
							continue
						}
						f.raw = f.raw[:len(f.raw)-1]
					}
				}
			}
		}
		fresh++
		f.raw = append(f.raw, rawInsn{})
		r := &f.raw[len(f.raw)-1]
		if f.memo.find(code[off:], r) {
			r.off, r.n, r.ok = uint64(off), 1, true
			off += int(r.len)
			continue
		}
		r.off, r.n = uint64(off), 1
		inst, err := x86asm.Decode(code[off:], 64)
		r.ok = err == nil && inst.Len > 0
		if r.ok {
			r.setInst(&inst)
			if r.op.op != 0 {
				if f.memo == nil {
					f.memo = new(insnMemo)
				}
				f.memo.add(code[off:off+inst.Len], r)
			}
		} else {
			r.len = 1
		}
		off += int(r.len)
	}
	return fresh
}

// samePCRel reports whether cur and old, the bytes of instructions at the
// same offset, old's decoded as hr, differ only inside hr's PC-relative
// field (a rel8/16/32 branch offset or a RIP-relative disp32). x86asm
// decodes the field's bytes into that operand and nothing else: what the
// instruction is, its length and its other operands do not depend on
// them (TestPCRelPatch checks it), so cur is hr with that operand
// patched.
func samePCRel(hr *rawInsn, cur, old []byte) bool {
	p, e := int(hr.pcrelOff), int(hr.pcrelOff)+int(hr.pcrel)
	return hr.pcrel != 0 && e <= len(cur) && len(cur) == len(old) &&
		bytes.Equal(cur[:p], old[:p]) && bytes.Equal(cur[e:], old[e:])
}

// patchPCRel sets r's PC-relative operand from b, the instruction's
// bytes, as x86asm decodes it: a branch offset sign-extended from its
// width, a RIP-relative displacement zero-extended from 32 bits. It
// reports false, changing nothing, when r has no such operand of the
// field's width.
func (r *rawInsn) patchPCRel(b []byte) bool {
	p, w := int(r.pcrelOff), int(r.pcrel)
	if r.pcrel == 0 || p+w > len(b) {
		return false
	}
	field := b[p : p+w]
	for i := range r.args {
		a := &r.args[i]
		switch {
		case a.kind == argRel && w == 1:
			a.val = int64(int8(field[0]))
		case a.kind == argRel && w == 2:
			a.val = int64(int16(binary.LittleEndian.Uint16(field)))
		case a.kind == argRel && w == 4:
			a.val = int64(int32(binary.LittleEndian.Uint32(field)))
		case a.kind == argMem && a.base == x86asm.RIP && w == 4:
			a.val = int64(binary.LittleEndian.Uint32(field))
		default:
			continue
		}
		return true
	}
	return false
}

// fillRun returns the entry of the run of int3 or nop bytes at off
// (code[off] is 0xcc or 0x90; at most maxRun of them) and where it ends.
func fillRun(code []byte, off int) (rawInsn, int) {
	c := code[off]
	end := off + 1
	for end < len(code) && code[end] == c && end-off < maxRun {
		end++
	}
	r := rawInsn{off: uint64(off), n: uint32(end - off), ok: true}
	if c == 0x90 {
		r.setInst(&nopInst)
	} else {
		r.setInst(&int3Inst)
	}
	return r, end
}

// isFill reports whether an instruction (or a run of them), of operation
// op and bytes b, is inter-function fill: nop, int3, or the zero bytes
// that decode as `add [rax], al`.
func isFill(op x86asm.Op, b []byte) bool {
	switch op {
	case x86asm.NOP, x86asm.INT:
		return op == x86asm.NOP || len(b) == 1 && b[0] == 0xcc || isRun(b, 0xcc)
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// isRun reports whether b is a run of int3 bytes (a run entry).
func isRun(b []byte, c byte) bool {
	if len(b) < 2 {
		return false
	}
	for _, x := range b {
		if x != c {
			return false
		}
	}
	return true
}

// canonInsn fills in it's operands and indirection from the decoded
// instruction r, and its operation where canonicalization changes it
// (it.op is the instruction's own on entry).
func (d *x86Func) canonInsn(it *item, r *rawInsn) {
	addr := d.f.addr + it.off
	next := addr + uint64(r.len)
	siteAddr, site, hasSite := d.sites.in(addr, int(r.len))
	if d.relaxedGOTImm(it, r, next, siteAddr, site, hasSite) {
		return // relax.go
	}
	pure := !hasSite
	local := pure
	tlsSite := hasSite && site == obj.TPOff32
	absSite := hasSite && (site == obj.Abs64 || site == obj.Abs32 || site == obj.Abs32S || tlsSite)
	// An absolute field is the immediate when it ends the instruction and
	// there is one (the immediate follows any displacement), else the
	// displacement of a non-RIP memory operand.
	immSite := false
	if absSite {
		width := uint64(4)
		if site == obj.Abs64 {
			width = 8
		}
		for i := range r.args {
			if r.args[i].kind == argImm && siteAddr+width == next {
				immSite = true
			}
		}
	}
	for i := range r.args {
		a := &r.args[i]
		if a.kind == argNone {
			break
		}
		var o operand
		switch a.kind {
		case argReg:
			o = operand{kind: opReg, base: a.base}
		case argImm:
			if immSite && tlsSite {
				// A TP offset (local-exec, or initial-exec relaxed).
				o = operand{kind: opAbsImm, ref: d.sy.tpoffRef(int64(int32(a.val)))}
			} else if immSite {
				// A relocation says this immediate is an address.
				v := uint64(a.val)
				if site == obj.Abs32 {
					v &= 0xffffffff
				}
				o = operand{kind: opAbsImm, ref: d.sy.fieldRef(siteAddr, v, d.f)}
			} else {
				o = operand{kind: opImm, val: a.val}
			}
		case argRel:
			pure = false
			target := next + uint64(a.val)
			it.target, it.hasRef = target, true
			name, via, in := d.branchTarget(target)
			o = operand{kind: opRef, ref: name}
			it.via = via
			local = local && in
		case argMem:
			pure = pure && a.base != x86asm.RIP
			local = local && a.base != x86asm.RIP
			o = d.memArg(it, r, a, next, siteAddr, site, hasSite, absSite && !immSite)
		}
		*d.args = append(*d.args, o)
		it.nargs++
	}
	it.pure, it.local = pure, local
}

// opKeyOf is the mnemonic's key: the operation with its lock or rep
// prefixes, if any, in order.
func opKeyOf(inst *x86asm.Inst) opKey {
	k := opKey{op: inst.Op}
	shift := 0
	for _, p := range inst.Prefix {
		if p == 0 {
			break
		}
		if p&(x86asm.PrefixImplicit|x86asm.PrefixIgnored) != 0 {
			continue
		}
		var code uint32
		switch p &^ (x86asm.PrefixImplicit | x86asm.PrefixIgnored | x86asm.PrefixInvalid) {
		case x86asm.PrefixLOCK:
			code = 1
		case x86asm.PrefixREP:
			code = 2
		case x86asm.PrefixREPN:
			code = 3
		default:
			continue
		}
		k.pfx |= code << shift
		shift += 2
	}
	return k
}

// opNames are the lower-case mnemonics of x86asm's operations.
var opNames = func() []string {
	var names []string
	for op := x86asm.Op(0); op < 1<<12; op++ {
		names = append(names, strings.ToLower(op.String()))
	}
	return names
}()

// opString is the canonical mnemonic of k: the lower-case operation,
// preceded by its lock/rep/repne prefixes (the last prefix first).
func opString(k opKey) string {
	var op string
	if int(k.op) < len(opNames) {
		op = opNames[k.op]
	} else {
		op = strings.ToLower(k.op.String())
	}
	for p := k.pfx; p != 0; p >>= 2 {
		switch p & 3 {
		case 1:
			op = "lock " + op
		case 2:
			op = "rep " + op
		case 3:
			op = "repne " + op
		}
	}
	return op
}

// memSize is the size keyword of a memory operand of n bytes, "" when
// there is none.
func memSize(n int) string {
	switch n {
	case 1:
		return "byte"
	case 2:
		return "word"
	case 4:
		return "dword"
	case 8:
		return "qword"
	case 10:
		return "tbyte"
	case 16:
		return "xmmword"
	case 32:
		return "ymmword"
	}
	return ""
}

// memArg canonicalizes a memory operand. A RIP-relative operand is
// written by its target; a load through a GOT slot rewrites the
// instruction (see canonInsn and the package comment).
func (d *x86Func) memArg(it *item, r *rawInsn, m *rawArg, next, siteAddr uint64, site obj.RelocKind, hasSite, absDisp bool) operand {
	size := uint16(0)
	if memSize(int(r.memBytes)) != "" {
		size = uint16(r.memBytes)
	}
	op := r.op.op
	if m.base == x86asm.RIP {
		// x86asm leaves a RIP-relative disp32 zero-extended.
		target := next + uint64(int64(int32(m.val)))
		it.target, it.hasRef = target, true
		// An address in a symbol is no GOT slot: named at once, it is
		// what symRef would say.
		if sym, ok := d.sy.inSymbol(target); ok {
			if op == x86asm.LEA {
				return operand{kind: opRef, ref: sym}
			}
			return operand{kind: opMemRIP, mem: size, ref: sym}
		}
		if d.sy.gotSlot(target, site, hasSite) { // in no symbol
			val, ok := d.sy.word(target)
			if !ok {
				d.f.note("GOT slot %#x has no contents", target)
				return operand{kind: opGOTNone, mem: size, val: int64(target)}
			}
			final := d.sy.symRef(val, d.f)
			switch {
			case op == x86asm.MOV && r.memBytes == 8 && it.nargs == 1 && r.args[0].kind == argReg && isReg64(r.args[0].base):
				// mov r64, [rip+GOT(f)] is lea r64, [rip+f] seen through.
				it.op, it.via = opKey{op: x86asm.LEA}, viaGOT
				return operand{kind: opRef, ref: final}
			case op == x86asm.CALL || op == x86asm.JMP:
				it.via = viaGOT
				return operand{kind: opRef, ref: d.seeThrough(val, final)}
			}
			return operand{kind: opGOT, mem: size, ref: final}
		}
		sym := d.sy.symRef(target, d.f)
		if op == x86asm.LEA {
			return operand{kind: opRef, ref: sym}
		}
		return operand{kind: opMemRIP, mem: size, ref: sym}
	}
	o := operand{kind: opMem, mem: size, seg: m.seg, base: m.base}
	if m.index != 0 {
		o.index, o.scale = m.index, m.scale
	}
	if absDisp && site == obj.TPOff32 {
		// A TP offset: fs:[tpoff(x)], [rax+tpoff(x)].
		o.ref = d.sy.tpoffRef(int64(int32(m.val)))
	} else if absDisp {
		// A relocation says the displacement is an address (R_X86_64_32S
		// in `jmp [8*rcx + table]`, `mov [8*rbx + array], rbx`).
		v := uint64(int64(int32(m.val)))
		if site == obj.Abs32 {
			v &= 0xffffffff
		}
		o.ref = d.sy.fieldRef(siteAddr, v, d.f)
	} else {
		o.val = m.val
	}
	return o
}

// seeThrough names the final function a call or jmp through a slot
// reaches, following trampolines at the slot's value.
func (d *x86Func) seeThrough(addr uint64, name ref) ref {
	if final, _, _, ok := d.follow(addr); ok {
		return final
	}
	return name
}

// inside names an address inside the function: its instruction ("@3"),
// or "f+0x5" between instruction starts.
func (d *x86Func) inside(addr uint64) (ref, bool) {
	f := d.f
	if addr-f.addr >= d.size {
		return ref{}, false
	}
	off := addr - f.addr
	if i, ok := f.indexAt(off); ok {
		return ref{kind: refIndex, off: int64(i)}, true
	}
	return ref{kind: refInside, name: f.name, off: int64(off)}, true
}

// indexAt returns the index of the instruction at offset off, if one
// starts there (after trimming).
func (f *Func) indexAt(off uint64) (int, bool) {
	raw := f.raw
	lo, hi := 0, len(raw)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if raw[m].off <= off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0, false
	}
	r := &raw[lo-1]
	l := uint64(r.len)
	d := off - r.off
	if d%l != 0 || d/l >= uint64(r.n) {
		return 0, false
	}
	return r.idx + int(d/l), true
}

// branchTarget names the target of a relative branch: an instruction of
// the same function ("@3"), a symbol's start, or, seen through stubs and
// trampolines, the final symbol. It reports whether the target is inside
// the function itself (named without the image).
func (d *x86Func) branchTarget(target uint64) (ref, uint8, bool) {
	if n, ok := d.inside(target); ok {
		return n, viaNone, true
	}
	if name, ok := d.sy.startOf(target); ok {
		return ref{kind: refSym, name: name}, viaNone, false
	}
	if final, via, addr, ok := d.follow(target); ok {
		// Seen through, a branch back into the same function (a recursive
		// call through a trampoline) is the same as the direct branch.
		if n, ok := d.inside(addr); ok {
			return n, via, false
		}
		return final, via, false
	}
	return d.sy.symRef(target, d.f), viaNone, false
}

// follow walks an indirection chain from addr — a `jmp rel` that is not at
// a symbol's start (a trampoline), or a `jmp [rip+slot]` (a stub) — to a
// symbol's start. It reports the first hop's kind.
func (d *x86Func) follow(addr uint64) (name ref, via uint8, final uint64, ok bool) {
	for hop := 0; hop < maxChain; hop++ {
		if name, ok := d.sy.startOf(addr); ok {
			return ref{kind: refSym, name: name}, via, addr, true
		}
		b := d.sy.codeAt(addr)
		if b == nil {
			return ref{}, 0, 0, false
		}
		if len(b) > 15 {
			b = b[:15]
		}
		inst, err := x86asm.Decode(b, 64)
		if err != nil || inst.Op != x86asm.JMP {
			if hop > 0 {
				// The chain ends at code that is no symbol's start.
				return d.sy.symRef(addr, d.f), via, addr, true
			}
			return ref{}, 0, 0, false
		}
		next := addr + uint64(inst.Len)
		switch a := inst.Args[0].(type) {
		case x86asm.Rel:
			if via == viaNone {
				via = viaTrampoline
			}
			addr = next + uint64(int64(a))
		case x86asm.Mem:
			if a.Base != x86asm.RIP || a.Index != 0 {
				return ref{}, 0, 0, false
			}
			val, ok := d.sy.word(next + uint64(int64(int32(a.Disp))))
			if !ok {
				return ref{}, 0, 0, false
			}
			if via == viaNone {
				via = viaStub
			}
			addr = val
		default:
			return ref{}, 0, 0, false
		}
	}
	d.f.note("indirection chain at %#x longer than %d hops", addr, maxChain)
	return ref{}, 0, 0, false
}

func isReg64(r x86asm.Reg) bool {
	return r >= x86asm.RAX && r <= x86asm.R15
}

// regNames are the registers' Intel names, by x86asm.Reg.
var regNames = func() [256]string {
	var t [256]string
	for i := range t {
		t[i] = regNameOf(x86asm.Reg(i))
	}
	return t
}()

func regName(r x86asm.Reg) string { return regNames[r] }

// regNameOf is a register's Intel name. x86asm names the 32-bit halves of
// r8..r15 in Plan 9 style (R8L); Intel syntax, and llvm-objdump, say r8d.
func regNameOf(r x86asm.Reg) string {
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
