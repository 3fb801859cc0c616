package incr

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/x86"
)

// Policy is how callers reach a function that moved.
type Policy string

// Policies.
const (
	// Trampoline keeps direct `call rel32`s; a moved function's first slot
	// keeps a 5-byte `jmp rel32` to its current place, one per symbol,
	// retargeted (never chained) on later moves.
	Trampoline Policy = "trampoline"
	// ThroughGOT makes every call and address load go through GOT slots; a
	// move rewrites the one slot.
	ThroughGOT Policy = "got"
)

// ParsePolicy parses a -policy flag value.
func ParsePolicy(s string) (Policy, error) {
	switch Policy(s) {
	case Trampoline, ThroughGOT:
		return Policy(s), nil
	}
	return "", fmt.Errorf("unknown policy %q (want trampoline or got)", s)
}

// Region names, one per output section the incremental linker keeps.
const (
	RegText   = ".text"
	RegROData = ".rodata"
	RegData   = ".data"
	RegGOT    = ".got"
	RegBSS    = ".bss"
)

// RegionOrder is the order of the regions in memory and in the file.
var RegionOrder = []string{RegText, RegROData, RegData, RegGOT, RegBSS}

// TrampolineSize is the room kept at a moved function's first address for
// its trampoline (a 5-byte jmp rel32, padded with int3).
const TrampolineSize = 8

// Fill bytes: free code is int3 so that a stale call traps; free data is 0.
const (
	CodeFill = 0xcc
	DataFill = 0x00
)

// AtomState is where one atom lives and what it holds.
type AtomState struct {
	Name   string
	Kind   obj.SectionKind
	Addr   uint64 // current address
	Size   uint64
	Slot   uint64 // bytes reserved at Addr (capacity)
	Align  uint64
	Local  bool
	Hash   [32]byte        // of the atom's contents, relocations and alignment
	Relocs []codegen.Reloc // the atom's relocations
	// First is the address of the function's trampoline (its first slot)
	// once it has moved under the trampoline policy, else 0.
	First uint64
}

// RegionFor returns the region an atom kind lives in.
func RegionFor(k obj.SectionKind) string {
	switch k {
	case obj.Text:
		return RegText
	case obj.ROData:
		return RegROData
	case obj.Data:
		return RegData
	}
	return RegBSS
}

// State is everything the incremental linker knows about its output. It is
// what the sidecar file holds between `linkcheck update` calls.
type State struct {
	Format  obj.Format
	Policy  Policy
	Regions map[string]*Region
	Atoms   map[string]*AtomState
	GOT     *GOT
	Entry   string
	// Source is the .lir text of the current version (for `linkcheck check`).
	Source string
	// Faults injects known linker bugs; only tests set it, to prove the
	// invariant checks catch them. It is never saved.
	Faults Faults `json:"-"`

	// idx is UpdateAtoms' reverse-reference index (fast.go); nil until
	// it is first needed, and dropped by Update.
	idx *refIndex
}

// Faults are deliberate linker bugs for fault-injection tests.
type Faults struct {
	// TrampolineBase computes trampoline displacements from the start of
	// the jmp instead of its end (off by 5).
	TrampolineBase bool
	// SkipGOTRewrite leaves a moved symbol's GOT slot stale.
	SkipGOTRewrite bool
	// FreeTrampolineSite hands a moved function's whole old slot back to
	// the free list although callers still jump to its trampoline there.
	FreeTrampolineSite bool
}

// Write is bytes to store at a virtual address.
type Write struct {
	Addr uint64
	Data []byte
}

// Patch is what an update changes in the output, for the format glue to
// write: bytes at addresses, and whether regions grew (file layout and
// headers change) or symbols changed.
type Patch struct {
	Writes []Write
	// Grown lists the regions whose capacity grew.
	Grown []string
	// Symbols is set when a symbol's address or size changed; SymbolSet
	// when symbols were added or removed.
	Symbols, SymbolSet bool
	// SymbolsChanged lists the atoms whose address or size changed, when
	// UpdateAtoms made the patch (nil from Update).
	SymbolsChanged []string
	Stats          Stats
}

// Stats counts what an update did.
type Stats struct {
	Unchanged, InPlace, Moved, Added, Deleted int
	Trampolines, GOTWrites, Repatched         int
}

func (s Stats) String() string {
	return fmt.Sprintf("unchanged %d, in place %d, moved %d, added %d, deleted %d, trampolines %d, GOT writes %d, re-patched fields %d",
		s.Unchanged, s.InPlace, s.Moved, s.Added, s.Deleted, s.Trampolines, s.GOTWrites, s.Repatched)
}

// Layout parameters: each region gets its own stretch of the address space
// so that growing one never moves another's addresses (only file offsets).
const (
	BaseAddr     = 0x1000000
	RegionSpan   = 0x10000000 // 256 MiB of address space per region
	InitialSlack = 2          // initial capacity = used * InitialSlack (at least MinCap)
	MinCap       = 0x4000
)

// NewState returns an empty state for a format and policy.
func NewState(format obj.Format, policy Policy) *State {
	st := &State{Format: format, Policy: policy, Regions: map[string]*Region{}, Atoms: map[string]*AtomState{}, GOT: NewGOT(), Entry: codegen.EntrySymbol}
	for i, n := range RegionOrder {
		st.Regions[n] = &Region{Name: n, Base: BaseAddr + uint64(i)*RegionSpan, Cap: MinCap}
	}
	return st
}

func hashAtom(a *codegen.Atom) [32]byte {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], a.Align)
	h.Write(b[:])
	h.Write([]byte{byte(a.Kind)})
	if a.Local {
		h.Write([]byte{1})
	}
	binary.LittleEndian.PutUint64(b[:], a.Size)
	h.Write(b[:])
	h.Write(a.Data)
	for _, r := range a.Relocs {
		binary.LittleEndian.PutUint64(b[:], r.Offset)
		h.Write(b[:])
		binary.LittleEndian.PutUint64(b[:], uint64(r.Addend))
		h.Write(b[:])
		h.Write([]byte{byte(r.Kind)})
		h.Write([]byte(r.Sym))
		h.Write([]byte{0})
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// CallTarget is the address a direct call to sym lands on: its trampoline
// when it has one, else the function itself.
func (st *State) CallTarget(sym string) (uint64, bool) {
	a, ok := st.Atoms[sym]
	if !ok {
		return 0, false
	}
	if a.First != 0 {
		return a.First, true
	}
	return a.Addr, true
}

// GOTAddr returns the address of GOT slot i.
func (st *State) GOTAddr(i int) uint64 { return st.Regions[RegGOT].Base + 8*uint64(i) }

// needsGOT reports whether a relocation kind refers to a GOT slot.
func needsGOT(k obj.RelocKind) bool { return k.UsesGOT() }

// relocValue computes the field value of r at address p.
func (st *State) relocValue(r codegen.Reloc, p uint64) (uint64, error) {
	var s uint64
	switch {
	case needsGOT(r.Kind):
		i, ok := st.GOT.Lookup(r.Sym)
		if !ok {
			return 0, fmt.Errorf("symbol %s has no GOT slot", r.Sym)
		}
		s = st.GOTAddr(i)
	case r.Kind == obj.Branch32:
		t, ok := st.CallTarget(r.Sym)
		if !ok {
			return 0, fmt.Errorf("undefined symbol %s", r.Sym)
		}
		s = t
	default:
		a, ok := st.Atoms[r.Sym]
		if !ok {
			return 0, fmt.Errorf("undefined symbol %s", r.Sym)
		}
		s = a.Addr
	}
	v := s + uint64(r.Addend)
	if r.Kind.PCRelative() {
		v -= p
		if int64(v) != int64(int32(v)) {
			return 0, fmt.Errorf("%s to %s: displacement %#x overflows 32 bits", r.Kind, r.Sym, int64(v))
		}
	}
	return v, nil
}

// field encodes a relocation value in its width.
func field(k obj.RelocKind, v uint64) []byte {
	b := make([]byte, k.Size())
	if len(b) == 8 {
		binary.LittleEndian.PutUint64(b, v)
	} else {
		binary.LittleEndian.PutUint32(b, uint32(v))
	}
	return b
}

// Update brings the state to the compiled program p and returns what to
// write. An empty state makes it a full link.
func (st *State) Update(p *codegen.Program) (*Patch, error) {
	if p.Format != st.Format {
		return nil, fmt.Errorf("incr: program for %s, output is %s", p.Format, st.Format)
	}
	st.idx = nil // UpdateAtoms rebuilds it
	pt := &Patch{}
	next := make(map[string]*codegen.Atom, len(p.Atoms))
	for _, a := range p.Atoms {
		next[a.Name] = a
	}
	// Old addresses, to find what moved.
	oldCall := map[string]uint64{}
	oldAddr := map[string]uint64{}
	for n, a := range st.Atoms {
		oldAddr[n] = a.Addr
		oldCall[n], _ = st.CallTarget(n)
	}
	oldGOT := map[string]int{}
	for i, s := range st.GOT.Slots {
		if s != "" {
			oldGOT[s] = i
		}
	}

	// 1. Deleted atoms free their slots, trampolines and GOT slots.
	var names []string
	for n := range st.Atoms {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, ok := next[n]; ok {
			continue
		}
		a := st.Atoms[n]
		if err := st.release(a, pt); err != nil {
			return nil, err
		}
		delete(st.Atoms, n)
		pt.Stats.Deleted++
		pt.SymbolSet = true
	}

	// 2. Place new and changed atoms, in program order.
	rewrite := map[string]bool{} // atoms whose whole contents are written
	for _, a := range p.Atoms {
		how, _, err := st.place(a, pt, nil)
		if err != nil {
			return nil, err
		}
		if how != placedUnchanged {
			rewrite[a.Name] = true
		}
	}

	// 3. GOT slots: one per symbol referenced through the GOT; slots no
	// longer referenced are freed.
	want := map[string]bool{}
	for _, a := range p.Atoms {
		for _, r := range a.Relocs {
			if needsGOT(r.Kind) {
				want[r.Sym] = true
			}
		}
	}
	for _, s := range append([]string(nil), st.GOT.Slots...) {
		if s != "" && !want[s] {
			i, _ := st.GOT.Release(s)
			pt.Writes = append(pt.Writes, Write{st.GOTAddr(i), make([]byte, 8)})
		}
	}
	var wantNames []string
	for s := range want {
		wantNames = append(wantNames, s)
	}
	sort.Strings(wantNames)
	for _, s := range wantNames {
		if _, ok := st.Atoms[s]; !ok {
			return nil, fmt.Errorf("incr: undefined symbol %s", s)
		}
		st.GOT.Acquire(s)
	}
	if need := 8 * uint64(st.GOT.Len()); need > st.Regions[RegGOT].Cap {
		st.Regions[RegGOT].Grow(need)
		pt.Grown = appendOnce(pt.Grown, RegGOT)
	}
	st.Regions[RegGOT].High = 8 * uint64(st.GOT.Len())
	for i, s := range st.GOT.Slots {
		if s == "" {
			continue
		}
		if old, ok := oldGOT[s]; ok && old == i && (oldAddr[s] == st.Atoms[s].Addr || st.Faults.SkipGOTRewrite) {
			continue
		}
		st.writeGOTSlot(pt, i, s)
	}

	// 4. Trampolines point at the current place of their function.
	for _, n := range sortedKeys(st.Atoms) {
		a := st.Atoms[n]
		if a.First == 0 || (!rewrite[n] && oldAddr[n] == a.Addr) {
			continue
		}
		if err := st.writeTrampoline(pt, a); err != nil {
			return nil, err
		}
	}

	// 5. Contents of rewritten atoms, with every relocation applied.
	for _, a := range p.Atoms {
		if rewrite[a.Name] {
			if err := st.writeAtom(pt, a); err != nil {
				return nil, err
			}
		}
	}

	// 6. Unchanged atoms whose relocation targets moved get those fields
	// re-patched.
	moved := func(r codegen.Reloc) bool {
		switch {
		case needsGOT(r.Kind):
			i, _ := st.GOT.Lookup(r.Sym)
			old, ok := oldGOT[r.Sym]
			return !ok || old != i
		case r.Kind == obj.Branch32:
			t, _ := st.CallTarget(r.Sym)
			return oldCall[r.Sym] != t
		default:
			return oldAddr[r.Sym] != st.Atoms[r.Sym].Addr
		}
	}
	for _, n := range sortedKeys(st.Atoms) {
		cur := st.Atoms[n]
		if rewrite[n] || cur.Kind == obj.BSS {
			continue
		}
		for _, r := range cur.Relocs {
			if !moved(r) {
				continue
			}
			if err := st.repatch(pt, cur, r); err != nil {
				return nil, err
			}
		}
	}
	if err := st.finish(pt); err != nil {
		return nil, err
	}
	return pt, nil
}

// writeGOTSlot writes GOT slot i: the current address of sym.
func (st *State) writeGOTSlot(pt *Patch, i int, sym string) {
	pt.Writes = append(pt.Writes, Write{st.GOTAddr(i), field(obj.Abs64, st.Atoms[sym].Addr)})
	pt.Stats.GOTWrites++
}

// writeTrampoline writes the trampoline of atom a (which has one) to its
// current place.
func (st *State) writeTrampoline(pt *Patch, a *AtomState) error {
	base := a.First
	if st.Faults.TrampolineBase {
		base -= 5
	}
	tr, err := trampoline(base, a.Addr)
	if err != nil {
		return fmt.Errorf("incr: trampoline of %s: %w", a.Name, err)
	}
	pt.Writes = append(pt.Writes, Write{a.First, tr})
	pt.Stats.Trampolines++
	return nil
}

// writeAtom writes the contents of a at its current place with every
// relocation applied.
func (st *State) writeAtom(pt *Patch, a *codegen.Atom) error {
	if a.Kind == obj.BSS {
		return nil
	}
	cur := st.Atoms[a.Name]
	data := append([]byte(nil), a.Data...)
	for _, r := range a.Relocs {
		v, err := st.relocValue(r, cur.Addr+r.Offset)
		if err != nil {
			return fmt.Errorf("incr: %s+%#x: %w", a.Name, r.Offset, err)
		}
		copy(data[r.Offset:], field(r.Kind, v))
	}
	pt.Writes = append(pt.Writes, Write{cur.Addr, data})
	return nil
}

// repatch rewrites one relocated field of an atom that is not rewritten
// whole, because the field's target moved.
func (st *State) repatch(pt *Patch, cur *AtomState, r codegen.Reloc) error {
	v, err := st.relocValue(r, cur.Addr+r.Offset)
	if err != nil {
		return fmt.Errorf("incr: %s+%#x: %w", cur.Name, r.Offset, err)
	}
	pt.Writes = append(pt.Writes, Write{cur.Addr + r.Offset, field(r.Kind, v)})
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
// symbol-table entry changed. relocs, when not nil, is told every atom
// whose relocation list is replaced (old is nil for a new atom, new is nil
// for a deleted one), for the fast path's reverse-reference index.
func (st *State) place(a *codegen.Atom, pt *Patch, relocs func(name string, old, new []codegen.Reloc)) (how placed, symChanged bool, err error) {
	if relocs == nil {
		relocs = func(string, []codegen.Reloc, []codegen.Reloc) {}
	}
	h := hashAtom(a)
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
		slot := PadToIdeal(max(a.Size, 1))
		addr, err := st.alloc(a.Kind, slot, a.Align, pt)
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
	case a.Size <= cur.Slot && cur.Addr%a.Align == 0 && a.Local == cur.Local:
		if a.Size < cur.Size {
			pt.Writes = append(pt.Writes, Write{cur.Addr + a.Size, fill(a.Kind, cur.Size-a.Size)})
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
func (st *State) alloc(k obj.SectionKind, size, align uint64, pt *Patch) (uint64, error) {
	r := st.Regions[RegionFor(k)]
	if align > RegionSpan/16 {
		return 0, fmt.Errorf("incr: alignment %d too large", align)
	}
	for {
		if addr, ok := r.Alloc(size, align); ok {
			return addr, nil
		}
		need := alignUp(r.High, align) + size
		if need > RegionSpan {
			return 0, fmt.Errorf("incr: region %s: %d bytes needed, the address range holds %d", r.Name, need, RegionSpan)
		}
		r.Grow(max(need, r.Cap*2))
		pt.Grown = appendOnce(pt.Grown, r.Name)
	}
}

// move gives atom cur (changed to a) a new slot.
func (st *State) move(cur *AtomState, a *codegen.Atom, h [32]byte, pt *Patch) error {
	oldAddr, oldSlot := cur.Addr, cur.Slot
	slot := PadToIdeal(max(a.Size, 1))
	// Allocate first so the new place is never the old one.
	addr, err := st.alloc(a.Kind, slot, a.Align, pt)
	if err != nil {
		return err
	}
	keep := uint64(0)
	if cur.Kind == obj.Text && st.Policy == Trampoline && cur.First == 0 && oldSlot >= TrampolineSize {
		// The first move leaves a trampoline at the first address.
		cur.First = oldAddr
		keep = TrampolineSize
		if st.Faults.FreeTrampolineSite {
			keep = 0
		}
	}
	if oldSlot > keep {
		if err := st.Regions[RegionFor(cur.Kind)].Release(oldAddr+keep, oldSlot-keep); err != nil {
			return err
		}
		if cur.Kind != obj.BSS {
			pt.Writes = append(pt.Writes, Write{oldAddr + keep, fill(cur.Kind, oldSlot-keep)})
		}
	}
	cur.Kind, cur.Addr, cur.Size, cur.Slot, cur.Align, cur.Local, cur.Hash, cur.Relocs = a.Kind, addr, a.Size, slot, a.Align, a.Local, h, a.Relocs
	return nil
}

// release frees everything a deleted atom holds.
func (st *State) release(a *AtomState, pt *Patch) error {
	r := st.Regions[RegionFor(a.Kind)]
	if err := r.Release(a.Addr, a.Slot); err != nil {
		return err
	}
	if a.Kind != obj.BSS {
		pt.Writes = append(pt.Writes, Write{a.Addr, fill(a.Kind, a.Slot)})
	}
	if a.First != 0 && !st.Faults.FreeTrampolineSite {
		if err := r.Release(a.First, TrampolineSize); err != nil {
			return err
		}
		pt.Writes = append(pt.Writes, Write{a.First, fill(a.Kind, TrampolineSize)})
	}
	if i, ok := st.GOT.Release(a.Name); ok {
		pt.Writes = append(pt.Writes, Write{st.GOTAddr(i), make([]byte, 8)})
	}
	return nil
}

// trampoline encodes `jmp rel32` at site to target, padded with int3.
func trampoline(site, target uint64) ([]byte, error) {
	d := int64(target) - int64(site+5)
	if d != int64(int32(d)) {
		return nil, fmt.Errorf("jump from %#x to %#x out of rel32 range", site, target)
	}
	e, err := x86.Encode(x86.Inst{Op: "jmp", Args: []x86.Operand{x86.Rel{Disp: int32(d), Size: 4}}})
	if err != nil {
		return nil, err
	}
	b := fill(obj.Text, TrampolineSize)
	copy(b, e.Bytes)
	return b, nil
}

func fill(k obj.SectionKind, n uint64) []byte {
	b := make([]byte, n)
	if k == obj.Text {
		for i := range b {
			b[i] = CodeFill
		}
	}
	return b
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
