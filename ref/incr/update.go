package incr

import (
	"fmt"
	"slices"
	"sort"

	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Update brings the state to the compiled program p and returns what to
// write; an empty state makes it a full link. It is UpdateAtoms of the
// change that p makes: its atoms that are new or differ from the state's
// (by hash of contents, relocations, alignment and binding), and the atoms
// it no longer has, so the placement algorithm exists once.
func (st *State) Update(p *obj.Program) (*Patch, error) {
	if p.Format != st.Format {
		return nil, fmt.Errorf("incr: program for %s, output is %s", p.Format, st.Format)
	}
	changed, deleted := st.Changes(p)
	pt, err := st.UpdateAtoms(changed, deleted)
	if err != nil {
		return nil, err
	}
	pt.Stats.Unchanged += len(p.Atoms) - len(changed)
	return pt, nil
}

// Changes returns what differs between the state and program p: the atoms
// of p that are new or changed, in program order, and the names of the
// state's atoms that p lacks, sorted.
func (st *State) Changes(p *obj.Program) (changed []*obj.Atom, deleted []string) {
	if st.seen == nil {
		st.seen = make(map[string]bool, len(p.Atoms))
	}
	next := st.seen
	clear(next)
	for _, a := range p.Atoms {
		next[a.Name] = true
		if cur, ok := st.Atoms[a.Name]; !ok || cur.Hash != st.hash(a) {
			changed = append(changed, a)
		}
	}
	for n := range st.Atoms {
		if !next[n] {
			deleted = append(deleted, n)
		}
	}
	sort.Strings(deleted)
	return changed, deleted
}

// The algorithm: UpdateAtoms applies a change set (atoms compiled anew,
// names deleted) without looking at the rest of the program, as an
// in-process session such as a compiler server does, which knows what it
// recompiled; Update computes the change set of a whole program and calls
// it. Its cost is that of the changed atoms and the references to them: a
// reverse-reference index (symbol → atoms whose relocations name it, with
// counts) and per-symbol counts of GOT references are kept up to date with
// each change, so that neither the atoms nor their relocations are
// rescanned.
// refIndex is the reverse-reference index of a State.
type refIndex struct {
	// refs[t][a] counts the relocations of atom a that name symbol t.
	refs map[string]map[string]int32
	// gotRefs[t] counts the GOT relocations (over all atoms) naming t.
	gotRefs map[string]int32
}

// index returns the state's reverse-reference index, building it (once,
// O(program)) when the state has none: a state loaded from a sidecar, or
// one that a full Update changed.
func (st *State) index() *refIndex {
	if st.idx != nil {
		return st.idx
	}
	ix := &refIndex{refs: make(map[string]map[string]int32, len(st.Atoms)), gotRefs: map[string]int32{}}
	for n, a := range st.Atoms {
		ix.add(n, a.Relocs)
	}
	st.idx = ix
	return ix
}

func (ix *refIndex) add(atom string, relocs []obj.SymReloc) {
	for _, r := range relocs {
		m := ix.refs[r.Sym]
		if m == nil {
			m = map[string]int32{}
			ix.refs[r.Sym] = m
		}
		m[atom]++
		if needsGOT(r.Kind) {
			ix.gotRefs[r.Sym]++
		}
	}
}

func (ix *refIndex) remove(atom string, relocs []obj.SymReloc) {
	for _, r := range relocs {
		if m := ix.refs[r.Sym]; m != nil {
			if m[atom]--; m[atom] <= 0 {
				delete(m, atom)
			}
			if len(m) == 0 {
				delete(ix.refs, r.Sym)
			}
		}
		if needsGOT(r.Kind) {
			if ix.gotRefs[r.Sym]--; ix.gotRefs[r.Sym] <= 0 {
				delete(ix.gotRefs, r.Sym)
			}
		}
	}
}

// UpdateAtoms brings the state to the current program given only what
// changed: changed holds the atoms that are new or were compiled anew (in
// program order), deleted the names of atoms that are gone. It returns
// what to write, as Update does for the program that results; the patch's
// SymbolsChanged lists the atoms whose address or size changed, so that
// the format glue can patch their symbol table entries in place.
//
// Atoms not named are assumed unchanged; an atom in changed whose contents
// did not change costs a hash. The cost is O(size of the changed atoms +
// the relocations that refer to them), independent of the program's size,
// except when a region grows (the glue then moves file contents).
func (st *State) UpdateAtoms(changed []*obj.Atom, deleted []string) (*Patch, error) {
	ix := st.index()
	pt := &Patch{}
	if st.faults.Has(fault.StaleErrorTable) {
		if _, ok := st.Atoms[obj.ErrTabSymbol]; ok {
			changed = slices.DeleteFunc(slices.Clone(changed), func(a *obj.Atom) bool { return a.Name == obj.ErrTabSymbol })
		}
	}
	// Symbols whose address, call target or GOT slot may change, with
	// their values before the update.
	type before struct {
		addr, call uint64
		known      bool // the atom existed
		slot       int
		hasSlot    bool
	}
	touched := map[string]*before{}
	touch := func(n string) {
		if _, ok := touched[n]; ok {
			return
		}
		b := &before{}
		if a, ok := st.Atoms[n]; ok {
			b.addr, b.known = a.Addr, true
			b.call, _ = st.CallTarget(n)
		}
		b.slot, b.hasSlot = st.GOT.Lookup(n)
		touched[n] = b
	}
	for _, n := range deleted {
		touch(n)
	}
	for _, a := range changed {
		touch(a.Name)
	}
	// gotSyms collects the targets of GOT relocations that are removed or
	// added: only their slots can be released or acquired.
	gotSyms := map[string]bool{}
	forget := func(n string, relocs []obj.SymReloc) {
		ix.remove(n, relocs)
		for _, r := range relocs {
			if needsGOT(r.Kind) {
				gotSyms[r.Sym] = true
			}
		}
	}
	learn := func(n string, relocs []obj.SymReloc) {
		ix.add(n, relocs)
		for _, r := range relocs {
			if needsGOT(r.Kind) {
				gotSyms[r.Sym] = true
			}
		}
	}

	// 1. Deleted atoms free their slots, trampolines and GOT slots (in
	// name order, as Update).
	dels := append([]string(nil), deleted...)
	sort.Strings(dels)
	for i, n := range dels {
		if i > 0 && dels[i-1] == n {
			continue
		}
		a, ok := st.Atoms[n]
		if !ok {
			return nil, fmt.Errorf("incr: delete %s: no such atom", n)
		}
		if err := st.release(a, pt); err != nil {
			return nil, err
		}
		forget(n, a.Relocs)
		delete(st.Atoms, n)
		pt.Stats.Deleted++
		pt.SymbolSet = pt.SymbolSet || !st.faults.Has(fault.KeepDeletedSymbol)
	}

	// 2. Place new and changed atoms, in the order given.
	rewrite := make(map[string]bool, len(changed))
	var symChanged []string
	for _, a := range changed {
		how, sym, err := st.place(a, pt, func(n string, old, new []obj.SymReloc) {
			forget(n, old)
			learn(n, new)
		})
		if err != nil {
			return nil, err
		}
		if how != placedUnchanged {
			rewrite[a.Name] = true
		}
		if sym && how != placedAdded {
			symChanged = append(symChanged, a.Name)
		}
	}

	// 3. GOT slots: symbols of the change set's old and new GOT
	// relocations that no longer have a GOT reference are released,
	// those that gained their first are given one (in name order), as
	// Update does for the whole table.
	// Every touched symbol is considered: a deleted atom's slot is
	// released, and an atom deleted and added again in one update (a
	// change of kind) lost its slot while other atoms still load it
	// through the GOT, so it gets one again.
	for n := range touched {
		gotSyms[n] = true
	}
	for s := range gotSyms {
		touch(s)
	}
	var released []int
	for s := range gotSyms {
		if ix.gotRefs[s] > 0 {
			continue
		}
		if i, ok := st.GOT.Lookup(s); ok {
			released = append(released, i)
		}
	}
	sort.Ints(released)
	for _, i := range released {
		s := st.GOT.Slots[i]
		st.GOT.Release(s)
		pt.Pointers = true
		st.clearGOTSlot(pt, i)
	}
	var acquire []string
	for s := range gotSyms {
		if ix.gotRefs[s] > 0 {
			if _, ok := st.Atoms[s]; !ok {
				return nil, fmt.Errorf("incr: undefined symbol %s", s)
			}
			if _, ok := st.GOT.Lookup(s); !ok {
				acquire = append(acquire, s)
			}
		}
	}
	sort.Strings(acquire)
	for _, s := range acquire {
		st.GOT.Acquire(s)
		pt.Pointers = true
	}
	if need := st.arch.PtrSize() * uint64(st.GOT.Len()); need > st.Regions[RegGOT].Cap {
		st.Regions[RegGOT].Grow(need)
		pt.Grown = appendOnce(pt.Grown, RegGOT)
	}
	st.Regions[RegGOT].High = st.arch.PtrSize() * uint64(st.GOT.Len())
	// Slot writes in slot order.
	type slotWrite struct {
		i int
		s string
	}
	var sw []slotWrite
	for s, b := range touched {
		i, ok := st.GOT.Lookup(s)
		if !ok {
			continue
		}
		a := st.Atoms[s]
		// As Update: b.addr is 0 for an atom that did not exist.
		if b.hasSlot && b.slot == i && (b.addr == a.Addr || st.faults.Has(fault.SkipGOTRewrite)) {
			continue
		}
		sw = append(sw, slotWrite{i, s})
	}
	sort.Slice(sw, func(x, y int) bool { return sw[x].i < sw[y].i })
	for _, w := range sw {
		st.writeGOTSlot(pt, w.i, w.s)
	}

	// 4. Trampolines of rewritten atoms point at their current place (in
	// name order).
	var names []string
	for n := range rewrite {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := st.Atoms[n]
		if a.First == 0 || st.markOf(n).keepTarget {
			continue
		}
		if err := st.writeTrampoline(pt, a); err != nil {
			return nil, err
		}
	}

	// 5. Contents of rewritten atoms, in the order given.
	for _, a := range changed {
		if rewrite[a.Name] {
			if err := st.writeAtom(pt, a); err != nil {
				return nil, err
			}
		}
	}

	// 6. Atoms not rewritten whose relocation targets moved get those
	// fields re-patched: only the referrers of touched symbols, from the
	// index.
	var targets []string
	for n := range touched {
		targets = append(targets, n)
	}
	sort.Strings(targets)
	for _, t := range targets {
		b := touched[t]
		a, live := st.Atoms[t]
		// Only a symbol whose address, call target or GOT slot changed
		// has fields to re-patch; the referrers of the others (the error
		// table, say) are not visited at all.
		slot, hasSlot := st.GOT.Lookup(t)
		call, _ := st.CallTarget(t)
		if live && b.known && a.Addr == b.addr && call == b.call && hasSlot == b.hasSlot && (!hasSlot || slot == b.slot) {
			continue
		}
		for referrer := range ix.refs[t] {
			cur := st.Atoms[referrer]
			if cur == nil || rewrite[referrer] || cur.Kind == obj.BSS {
				continue
			}
			for _, r := range cur.Relocs {
				if r.Sym != t {
					continue
				}
				var moved bool
				switch {
				case needsGOT(r.Kind):
					i, _ := st.GOT.Lookup(t)
					moved = !b.hasSlot || b.slot != i
				case r.Kind == obj.Branch32:
					c, _ := st.CallTarget(t)
					moved = b.call != c
				default:
					moved = !live || b.addr != a.Addr
				}
				if !moved || r.Kind == st.ptrKind() && st.faults.Has(fault.SkipPointerRepatch) {
					continue
				}
				if err := st.repatch(pt, cur, r); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := st.finish(pt); err != nil {
		return nil, err
	}
	pt.SymbolsChanged = symChanged
	st.marks = nil
	return pt, nil
}

// writeGOTSlot writes GOT slot i: the current address of sym.
func (st *State) writeGOTSlot(pt *Patch, i int, sym string) {
	b := make([]byte, st.arch.PtrSize())
	// A slot holds the symbol's address, or its index + 1 when it lives
	// in an indexed region (Wasm's function index, function 0 being the
	// format's null); a pointer of either cannot fail.
	v := st.Atoms[sym].Addr
	if i, ok := st.Index(sym); ok {
		v = i + 1 // 0 is a free slot
	}
	_ = st.arch.Apply(st.ptrKind(), b, arch.Inputs{S: v})
	pt.Writes = append(pt.Writes, Write{st.GOTAddr(i), b})
	pt.Stats.GOTWrites++
}

// writeTrampoline writes the trampoline of atom a (which has one) to its
// current place.
func (st *State) writeTrampoline(pt *Patch, a *AtomState) error {
	base := a.First
	if st.faults.Has(fault.TrampolineBase) {
		base -= 5
	}
	target := a.Addr
	if via := st.markOf(a.Name).chainedVia; via != 0 {
		target = via // fault.ChainTrampolines
	}
	tr, err := st.arch.Trampoline(base, target)
	if err != nil {
		return fmt.Errorf("incr: trampoline of %s: %w", a.Name, err)
	}
	pt.Writes = append(pt.Writes, Write{a.First, tr})
	pt.Stats.Trampolines++
	return nil
}

// writeAtom writes the contents of a at its current place with every
// relocation applied.
func (st *State) writeAtom(pt *Patch, a *obj.Atom) error {
	if a.Kind == obj.BSS {
		return nil
	}
	cur := st.Atoms[a.Name]
	data := append([]byte(nil), a.Data...)
	for _, r := range a.Relocs {
		if err := st.applyReloc(r, cur.Addr+r.Offset, data[r.Offset:]); err != nil {
			return fmt.Errorf("incr: %s+%#x: %w", a.Name, r.Offset, err)
		}
	}
	pt.Writes = append(pt.Writes, Write{cur.Addr, data})
	return nil
}

// repatch rewrites one relocated field of an atom that is not rewritten
// whole, because the field's target moved.
func (st *State) repatch(pt *Patch, cur *AtomState, r obj.SymReloc) error {
	b := make([]byte, r.Kind.Size())
	if err := st.applyReloc(r, cur.Addr+r.Offset, b); err != nil {
		return fmt.Errorf("incr: %s+%#x: %w", cur.Name, r.Offset, err)
	}
	pt.Writes = append(pt.Writes, Write{cur.Addr + r.Offset, b})
	pt.Stats.Repatched++
	return nil
}

// finish ends an update: the entry must exist, and a region more than half
// full doubles, so that growth (which moves file contents) is rare.
func (st *State) finish(pt *Patch) error {
	if _, ok := st.Atoms[st.Entry]; !ok {
		return fmt.Errorf("incr: no entry symbol %s", st.Entry)
	}
	for _, n := range RegionOrder {
		r := st.Regions[n]
		if r.High*InitialSlack > r.Cap {
			r.Grow(r.High * InitialSlack)
			pt.Grown = appendOnce(pt.Grown, n)
		}
	}
	return nil
}

// placed says what place did with an atom.
type placed uint8

const (
	placedUnchanged placed = iota
	placedAdded
	placedInPlace
	placedMoved
)

// place gives atom a its place in an update: a new slot when it is new, its
// slot when its contents changed but still fit there at the alignment they
// want (rewritten in place; stale bytes past the new end are filled), else a
// new slot (a move). A name that changed what it names (a function become a
// global) is deleted, then added. symChanged reports that the atom's
// symbol-table entry changed. relocs is told every atom whose relocation
// list is replaced (old is nil for a new atom, new is nil for a deleted
// one), for the reverse-reference index.
func (st *State) place(a *obj.Atom, pt *Patch, relocs func(name string, old, new []obj.SymReloc)) (how placed, symChanged bool, err error) {
	note := relocs
	relocs = func(name string, old, new []obj.SymReloc) {
		if hasPointer(old) || hasPointer(new) {
			pt.Pointers = true
		}
		note(name, old, new)
	}
	h := st.hash(a)
	cur, ok := st.Atoms[a.Name]
	if ok && cur.Kind != a.Kind {
		if err := st.release(cur, pt); err != nil {
			return 0, false, err
		}
		relocs(a.Name, cur.Relocs, nil)
		delete(st.Atoms, a.Name)
		pt.Stats.Deleted++
		ok = false
	}
	switch {
	case !ok:
		addr, slot, err := st.alloc(a.Kind, PadToIdeal(max(a.Size, 1)), a.Align, pt)
		if err != nil {
			return 0, false, err
		}
		st.Atoms[a.Name] = &AtomState{Name: a.Name, Kind: a.Kind, Addr: addr, Size: a.Size, Slot: slot, Align: a.Align, Local: a.Local, Hash: h, Relocs: a.Relocs}
		relocs(a.Name, nil, a.Relocs)
		pt.Stats.Added++
		pt.SymbolSet = true
		return placedAdded, true, nil
	case cur.Hash == h:
		pt.Stats.Unchanged++
		return placedUnchanged, false, nil
	case (a.Size <= cur.Slot || st.overflowsLast(cur, a)) && cur.Addr%a.Align == 0 && a.Local == cur.Local:
		if a.Size < cur.Size && !st.faults.Has(fault.ShrinkNoFill) {
			pt.Writes = append(pt.Writes, Write{cur.Addr + a.Size, st.fill(a.Kind, cur.Size-a.Size)})
		}
		symChanged = a.Size != cur.Size
		if symChanged {
			pt.Symbols = true
		}
		relocs(a.Name, cur.Relocs, a.Relocs)
		cur.Size, cur.Align, cur.Hash, cur.Relocs = a.Size, a.Align, h, a.Relocs
		pt.Stats.InPlace++
		return placedInPlace, symChanged, nil
	default:
		// A change of binding reorders the symbol table (locals first):
		// decide before move overwrites cur.
		bindingChanged := a.Local != cur.Local
		relocs(a.Name, cur.Relocs, a.Relocs)
		if err := st.move(cur, a, h, pt); err != nil {
			return 0, false, err
		}
		pt.Stats.Moved++
		pt.Symbols = true
		if bindingChanged {
			pt.SymbolSet = true
		}
		return placedMoved, true, nil
	}
}

// alloc reserves size bytes for an atom of kind k, growing the region when
// it is full.
// It returns the address and the slot: size bytes, or more in an indexed
// region (a whole hole).
func (st *State) alloc(k obj.SectionKind, size, align uint64, pt *Patch) (uint64, uint64, error) {
	r := st.Regions[RegionFor(k)]
	if align > st.span()/16 {
		return 0, 0, fmt.Errorf("incr: alignment %d too large", align)
	}
	for {
		if addr, slot, ok := r.AllocSlot(size, align); ok {
			return addr, slot, nil
		}
		need := alignUp(r.High, align) + size
		if need > st.span() {
			return 0, 0, fmt.Errorf("incr: region %s: %d bytes needed, the address range holds %d", r.Name, need, st.span())
		}
		r.Grow(max(need, r.Cap*2))
		pt.Grown = appendOnce(pt.Grown, r.Name)
	}
}

// move gives atom cur (changed to a) a new slot.
func (st *State) move(cur *AtomState, a *obj.Atom, h [32]byte, pt *Patch) error {
	oldAddr, oldSlot := cur.Addr, cur.Slot
	// Allocate first so the new place is never the old one.
	align := a.Align
	if st.faults.Has(fault.LoseAlignment) {
		align = min(align, 16)
	}
	addr, slot, err := st.alloc(a.Kind, PadToIdeal(max(a.Size, 1)), align, pt)
	if err != nil {
		return err
	}
	keep := uint64(0)
	tsize := st.arch.TrampolineSize()
	if cur.First != 0 && cur.Kind == obj.Text && oldSlot >= tsize {
		switch {
		case st.faults.Has(fault.ChainTrampolines):
			// The old place keeps a trampoline to the new one, and the
			// first trampoline is pointed at the old place.
			tr, err := st.arch.Trampoline(oldAddr, addr)
			if err != nil {
				return err
			}
			pt.Writes = append(pt.Writes, Write{oldAddr, tr})
			st.mark(cur.Name).chainedVia = oldAddr
			keep = tsize
		case st.faults.Has(fault.KeepTrampolineTarget):
			st.mark(cur.Name).keepTarget = true
		}
	}
	if cur.Kind == obj.Text && st.Policy == Trampoline && tsize > 0 && cur.First == 0 && oldSlot >= tsize {
		// The first move leaves a trampoline at the first address.
		cur.First = oldAddr
		keep = tsize
		if st.faults.Has(fault.FreeTrampolineSite) {
			keep = 0
		}
	}
	if oldSlot > keep {
		if err := st.Regions[RegionFor(cur.Kind)].Release(oldAddr+keep, oldSlot-keep); err != nil {
			return err
		}
		if cur.Kind != obj.BSS {
			pt.Writes = append(pt.Writes, Write{oldAddr + keep, st.fill(cur.Kind, oldSlot-keep)})
		}
	}
	cur.Kind, cur.Addr, cur.Size, cur.Slot, cur.Align, cur.Local, cur.Hash, cur.Relocs = a.Kind, addr, a.Size, slot, a.Align, a.Local, h, a.Relocs
	return nil
}

// release frees everything a deleted atom holds.
func (st *State) release(a *AtomState, pt *Patch) error {
	if hasPointer(a.Relocs) {
		pt.Pointers = true
	}
	r := st.Regions[RegionFor(a.Kind)]
	if err := r.Release(a.Addr, a.Slot); err != nil {
		return err
	}
	if a.Kind != obj.BSS {
		pt.Writes = append(pt.Writes, Write{a.Addr, st.fill(a.Kind, a.Slot)})
	}
	if a.First != 0 && !st.faults.Has(fault.FreeTrampolineSite) {
		if err := r.Release(a.First, st.arch.TrampolineSize()); err != nil {
			return err
		}
		pt.Writes = append(pt.Writes, Write{a.First, st.fill(a.Kind, st.arch.TrampolineSize())})
	}
	if i, ok := st.GOT.Release(a.Name); ok {
		st.clearGOTSlot(pt, i)
	}
	return nil
}

// hasPointer reports whether relocs hold an absolute pointer site.
func hasPointer(relocs []obj.SymReloc) bool {
	for _, r := range relocs {
		if r.Kind == obj.Abs64 {
			return true
		}
	}
	return false
}

// faultMark is what a planted defect remembers about one atom during an
// update (fault-injection tests only).
type faultMark struct {
	chainedVia uint64 // ChainTrampolines: the first trampoline's target
	keepTarget bool   // KeepTrampolineTarget: its trampoline is not rewritten
}

func (st *State) markOf(name string) faultMark {
	if m := st.marks[name]; m != nil {
		return *m
	}
	return faultMark{}
}

func (st *State) mark(name string) *faultMark {
	if st.marks == nil {
		st.marks = map[string]*faultMark{}
	}
	m := st.marks[name]
	if m == nil {
		m = &faultMark{}
		st.marks[name] = m
	}
	return m
}

// overflowsLast is fault.LastAtomOverflow: the region's last atom may grow
// in place past its slot when the region's capacity has room, without the
// room being reserved.
func (st *State) overflowsLast(cur *AtomState, a *obj.Atom) bool {
	if !st.faults.Has(fault.LastAtomOverflow) {
		return false
	}
	r := st.Regions[RegionFor(cur.Kind)]
	return cur.Kind == a.Kind && cur.Addr+cur.Slot == r.Base+r.High && cur.Addr+a.Size <= r.Base+r.Cap
}

// clearGOTSlot zeroes released GOT slot i.
func (st *State) clearGOTSlot(pt *Patch, i int) {
	if !st.faults.Has(fault.StaleFreeGOTSlot) {
		pt.Writes = append(pt.Writes, Write{st.GOTAddr(i), make([]byte, st.arch.PtrSize())})
	}
}
