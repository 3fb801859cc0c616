package incr

import (
	"fmt"
	"sort"

	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// The fast path: UpdateAtoms applies a change set (atoms compiled anew,
// names deleted) without looking at the rest of the program, for an
// in-process session such as a compiler server, which knows what it
// recompiled. It does what Update does for the same change, in the same
// order, so that the output is byte for byte the same (proved by
// oracle/pipeline's TestUpdateAtomsEquivalent), but its cost is that of the
// changed atoms and the references to them: a reverse-reference index
// (symbol → atoms whose relocations name it, with counts) and per-symbol
// counts of GOT references are kept up to date with each change, so that
// neither the atoms nor their relocations are rescanned.

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

func (ix *refIndex) add(atom string, relocs []codegen.Reloc) {
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

func (ix *refIndex) remove(atom string, relocs []codegen.Reloc) {
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
func (st *State) UpdateAtoms(changed []*codegen.Atom, deleted []string) (*Patch, error) {
	ix := st.index()
	pt := &Patch{}
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
	forget := func(n string, relocs []codegen.Reloc) {
		ix.remove(n, relocs)
		for _, r := range relocs {
			if needsGOT(r.Kind) {
				gotSyms[r.Sym] = true
			}
		}
	}
	learn := func(n string, relocs []codegen.Reloc) {
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
		pt.SymbolSet = true
	}

	// 2. Place new and changed atoms, in the order given.
	rewrite := make(map[string]bool, len(changed))
	var symChanged []string
	for _, a := range changed {
		how, sym, err := st.place(a, pt, func(n string, old, new []codegen.Reloc) {
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
	for n := range touched {
		if _, ok := st.GOT.Lookup(n); ok {
			gotSyms[n] = true // a deleted atom's slot
		}
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
		pt.Writes = append(pt.Writes, Write{st.GOTAddr(i), make([]byte, 8)})
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
	}
	if need := 8 * uint64(st.GOT.Len()); need > st.Regions[RegGOT].Cap {
		st.Regions[RegGOT].Grow(need)
		pt.Grown = appendOnce(pt.Grown, RegGOT)
	}
	st.Regions[RegGOT].High = 8 * uint64(st.GOT.Len())
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
		if b.hasSlot && b.slot == i && (b.addr == a.Addr || st.Faults.SkipGOTRewrite) {
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
		if a.First == 0 {
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
				if !moved {
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
	return pt, nil
}
