// Package incr is the format-neutral core of linkcheck's incremental linker,
// modelled on the Zig self-hosted linkers: output sections are allocated with
// spare capacity; atoms live in per-section regions with free lists and the
// ideal-capacity padding rule, so that code that grows a little is rewritten
// in place; a GOT table with a free list; trampolines for moved functions
// (one per symbol, at its first address, retargeted on later moves); and the
// lazily regenerated error table.
//
// The package has two layers:
//
//	state.go, update.go, alloc.go   the State: where every atom, GOT slot and
//	                                trampoline lives, and Update/UpdateAtoms,
//	                                which bring it to a new version and return
//	                                the positioned writes that do it (a Patch)
//	output.go, sidecar.go, file.go  the Output: the file itself — created,
//	                                opened and verified through its sidecar,
//	                                patched with positioned writes, relaid out
//	                                when a region grows, saved atomically
//
// A format reaches the core only through the small Image interface
// (image.go): its header size and file alignment, and the bytes of its
// headers and symbol table for a state; an architecture only through
// ref/arch (relocation fields, fill byte, trampolines).
package incr

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Policy is how callers reach a function that moved.
type Policy string

// Policies.
const (
	// Trampoline keeps direct `call rel32`s; a moved function's first slot
	// keeps a jump to its current place, one per symbol, retargeted (never
	// chained) on later moves.
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

// Region names, one per output section the incremental linker keeps. They
// are the core's names; a format names its sections as it likes.
const (
	RegText   = ".text"
	RegROData = ".rodata"
	RegData   = ".data"
	RegGOT    = ".got"
	RegBSS    = ".bss"
)

// RegionOrder is the order of the regions in memory and in the file.
var RegionOrder = []string{RegText, RegROData, RegData, RegGOT, RegBSS}

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

// AtomState is where one atom lives and what it holds.
type AtomState struct {
	Name   string
	Kind   obj.SectionKind
	Addr   uint64 // current address
	Size   uint64
	Slot   uint64 // bytes reserved at Addr (capacity)
	Align  uint64
	Local  bool
	Hash   Digest         // of the atom's contents, relocations and alignment
	Relocs []obj.SymReloc // the atom's relocations
	// First is the address of the function's trampoline (its first slot)
	// once it has moved under the trampoline policy, else 0.
	First uint64
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
	// Span is the address space between region bases (RegionSpan unless
	// the image asks for less: RegionSpanner); 0 in an older sidecar
	// means RegionSpan.
	Span uint64 `json:",omitempty"`
	// Source is the .lir text of the current version (for `linkcheck check`).
	Source string

	// arch is the instruction set's relocation arithmetic, fill byte and
	// trampolines; faults the deliberate defects of fault-injection tests.
	// Neither is saved.
	arch   arch.Arch
	faults fault.Set
	// idx is UpdateAtoms' reverse-reference index (update.go); nil until
	// it is first needed.
	idx *refIndex
	// marks are what planted defects remember within one update.
	marks map[string]*faultMark
	// hbuf is hashAtom's buffer and seen Changes' set of the program's
	// names, kept between updates so that the per-update diff of a whole
	// program allocates nothing.
	hbuf []byte
	seen map[string]bool
}

// Write is bytes to store at a virtual address.
type Write struct {
	Addr uint64
	Data []byte
}

// Patch is what an update changes in the output, for the file layer to
// write: bytes at addresses, and whether regions grew (file layout and
// headers change) or symbols changed.
type Patch struct {
	Writes []Write
	// Grown lists the regions whose capacity grew.
	Grown []string
	// Symbols is set when a symbol's address or size changed; SymbolSet
	// when symbols were added or removed (or changed binding).
	Symbols, SymbolSet bool
	// SymbolsChanged lists the atoms whose address or size changed (new
	// atoms are covered by SymbolSet).
	SymbolsChanged []string
	// Pointers is set when an absolute pointer site was added, moved or
	// removed (an atom with an Abs64 relocation placed or freed, a GOT
	// slot acquired or released): formats whose headers list pointer
	// sites (Mach-O rebase information, PE base relocations) rewrite them.
	Pointers bool
	Stats    Stats
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
	RegionSpan   = 0x10000000 // 256 MiB of address space per region
	InitialSlack = 2          // initial capacity = used * InitialSlack (at least MinCap)
	MinCap       = 0x4000
)

// NewState returns an empty state for a format, an architecture and a
// policy, with its regions from base up. Update of a program makes it a
// full link.
func NewState(format obj.Format, a arch.Arch, base uint64, policy Policy) *State {
	return newState(format, a, base, RegionSpan, policy)
}

func newState(format obj.Format, a arch.Arch, base, span uint64, policy Policy) *State {
	st := &State{Format: format, Policy: policy, Regions: map[string]*Region{}, Atoms: map[string]*AtomState{}, GOT: NewGOT(), Entry: obj.EntrySymbol, arch: a}
	if span != RegionSpan {
		st.Span = span
	}
	for i, n := range RegionOrder {
		st.Regions[n] = &Region{Name: n, Base: base + uint64(i)*span, Cap: MinCap}
	}
	return st
}

// span is the address space between region bases.
func (st *State) span() uint64 {
	if st.Span != 0 {
		return st.Span
	}
	return RegionSpan
}

// SetFaults plants deliberate defects in the state's updates (tests only).
func (st *State) SetFaults(f fault.Set) { st.faults = f }

// Faults returns the defects planted in the state's updates, for the
// format's image to plant its own.
func (st *State) Faults() fault.Set { return st.faults }

// Arch returns the state's architecture.
func (st *State) Arch() arch.Arch { return st.arch }

// Digest is a SHA-256 digest. In JSON it is a string of 64 hex digits,
// which costs a sidecar's encoding and decoding a twentieth of what 32
// numbers did; a sidecar written when it was 32 numbers reads as before.
type Digest [32]byte

// MarshalJSON writes d as a string of 64 hex digits.
func (d Digest) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+hex.EncodedLen(len(d)))
	b = append(b, '"')
	b = hex.AppendEncode(b, d[:])
	return append(b, '"'), nil
}

// UnmarshalJSON reads a string of 64 hex digits, or the 32 numbers of
// an older sidecar.
func (d *Digest) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		var a [32]byte
		if err := json.Unmarshal(b, &a); err != nil {
			return err
		}
		*d = a
		return nil
	}
	if len(b) != 2+hex.EncodedLen(len(d)) || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("a digest is 64 hex digits, not %.80s", b)
	}
	if _, err := hex.Decode(d[:], b[1:len(b)-1]); err != nil {
		return fmt.Errorf("a digest is 64 hex digits: %w", err)
	}
	return nil
}

func hashAtom(a *obj.Atom) Digest {
	var buf []byte
	return hashAtomBuf(a, &buf)
}

// hashAtomBuf is hashAtom building its input in *buf, which it keeps for
// the next call.
func hashAtomBuf(a *obj.Atom, buf *[]byte) Digest {
	// One SHA-256 over the fields laid end to end, as a stream of writes
	// would hash them, built in one buffer: the writes' own cost was most
	// of the hashing of a small atom.
	n := 8 + 2 + 8 + len(a.Data)
	for _, r := range a.Relocs {
		n += 8 + 8 + 1 + len(r.Sym) + 1
	}
	b := (*buf)[:0]
	if cap(b) < n {
		b = make([]byte, 0, max(n, 2*cap(b)))
	}
	b = binary.LittleEndian.AppendUint64(b, a.Align)
	b = append(b, byte(a.Kind))
	if a.Local {
		b = append(b, 1)
	}
	b = binary.LittleEndian.AppendUint64(b, a.Size)
	b = append(b, a.Data...)
	for _, r := range a.Relocs {
		b = binary.LittleEndian.AppendUint64(b, r.Offset)
		b = binary.LittleEndian.AppendUint64(b, uint64(r.Addend))
		b = append(b, byte(r.Kind))
		b = append(b, r.Sym...)
		b = append(b, 0)
	}
	*buf = b
	return sha256.Sum256(b)
}

// hash is hashAtom in the state's buffer.
func (st *State) hash(a *obj.Atom) Digest { return hashAtomBuf(a, &st.hbuf) }

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

// Index returns the index of sym's slot in its region when the region is
// indexed (Region.Indexed: a Wasm function's place in the Code section).
func (st *State) Index(sym string) (uint64, bool) {
	a, ok := st.Atoms[sym]
	if !ok {
		return 0, false
	}
	return st.Regions[RegionFor(a.Kind)].Index(a.Addr)
}

// ptrKind is the relocation kind of an address-sized pointer.
func (st *State) ptrKind() obj.RelocKind {
	if st.arch.PtrSize() == 4 {
		return obj.Abs32
	}
	return obj.Abs64
}

// GOTAddr returns the address of GOT slot i.
func (st *State) GOTAddr(i int) uint64 {
	return st.Regions[RegGOT].Base + st.arch.PtrSize()*uint64(i)
}

// needsGOT reports whether a relocation kind refers to a GOT slot.
func needsGOT(k obj.RelocKind) bool { return k.UsesGOT() }

// applyReloc stores the value of r, at address p, into field: the target
// is the symbol's GOT slot for GOT kinds, its call target (trampoline) for
// branches, else its address.
func (st *State) applyReloc(r obj.SymReloc, p uint64, field []byte) error {
	in := arch.Inputs{A: r.Addend, P: p}
	if r.Kind == obj.PCRel32 && st.faults.Has(fault.PCRelBias) {
		in.A++
	}
	switch {
	case needsGOT(r.Kind):
		i, ok := st.GOT.Lookup(r.Sym)
		if !ok {
			return fmt.Errorf("symbol %s has no GOT slot", r.Sym)
		}
		in.G, in.GOT = st.GOTAddr(i), st.Regions[RegGOT].Base
	case r.Kind.Indexed():
		i, ok := st.Index(r.Sym)
		if !ok {
			return fmt.Errorf("symbol %s has no index", r.Sym)
		}
		in.S = i
	case r.Kind == obj.Branch32:
		t, ok := st.CallTarget(r.Sym)
		if !ok {
			return fmt.Errorf("undefined symbol %s", r.Sym)
		}
		in.S = t
	default:
		a, ok := st.Atoms[r.Sym]
		if !ok {
			return fmt.Errorf("undefined symbol %s", r.Sym)
		}
		in.S = a.Addr
		if r.Kind == obj.WasmBodySizeLEB {
			in.Z = a.Slot
		}
	}
	if err := st.arch.Apply(r.Kind, field, in); err != nil {
		if re, ok := err.(*arch.RangeError); ok && r.Kind.PCRelative() {
			return fmt.Errorf("%s to %s: displacement %#x overflows 32 bits", r.Kind, r.Sym, re.Value)
		}
		return fmt.Errorf("%s to %s: %w", r.Kind, r.Sym, err)
	}
	return nil
}

// fill returns n bytes of free space of kind k: the architecture's code
// fill byte in code, so that a stale call traps, zeros elsewhere.
func (st *State) fill(k obj.SectionKind, n uint64) []byte {
	b := make([]byte, n)
	if k == obj.Text {
		c := st.arch.CodeFill()
		for i := range b {
			b[i] = c
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
