package obj

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/par"
)

// Reserved symbol names of compiled programs. Program identifiers cannot
// start with an underscore, so these never collide with a program's names.
const (
	// EntrySymbol is the entry stub: it calls main and hands its value to
	// the outside world.
	EntrySymbol = "_start"
	// ErrTabSymbol is the error-name table.
	ErrTabSymbol = "_lc_errtab"
	// MainSymbol is the program's main function.
	MainSymbol = "main"
)

// SymReloc is a relocation of an atom: it names its target symbol, where a
// Reloc of an Object indexes the object's symbol table.
type SymReloc struct {
	Offset uint64
	Kind   RelocKind
	Sym    string
	Addend int64
}

// Atom is one unit of code or data: what a code generator emits, what
// becomes one section of an object file, and what the incremental linker
// places, moves and patches.
type Atom struct {
	Name   string
	Kind   SectionKind
	Align  uint64
	Data   []byte // nil for BSS
	Size   uint64
	Relocs []SymReloc // sorted by Offset
	Local  bool       // a local symbol (a `local` function)
}

// IsFunc reports whether the atom is code.
func (a *Atom) IsFunc() bool { return a.Kind == Text }

// SectionName returns the ELF-style section name of the atom (".text.f").
func (a *Atom) SectionName() string {
	return "." + a.Kind.String() + "." + a.Name
}

// Program is a compiled program: its atoms in a deterministic order (entry
// stub, functions and globals in declaration order, error table).
type Program struct {
	Format Format
	Atoms  []*Atom
}

// Atom returns the atom named name, or nil.
func (p *Program) Atom(name string) *Atom {
	for _, a := range p.Atoms {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// ErrorTable builds the error-name table atom: N+1 little-endian u32
// offsets from the table's start, then the NUL-terminated names. Error k
// (1-based) spans [off[k-1], off[k]-1). off[0] is 4(N+1), so N is known
// from the table itself and the table can be regenerated without
// recompiling its users.
//
// With fault.SeedErrTab the table is seed 000's: N offsets (one per name,
// its start), then the names.
func ErrorTable(names []string, faults fault.Set) *Atom {
	offsets := len(names) + 1
	if faults.Has(fault.SeedErrTab) {
		offsets = len(names)
	}
	size := 4 * offsets
	for _, s := range names {
		size += len(s) + 1
	}
	data := make([]byte, 4*offsets, size)
	// Offset i is where name i+1 starts (with the fault: name i), and the
	// last of N+1 is the end of the blob.
	off := 4 * offsets
	for i := range offsets {
		binary.LittleEndian.PutUint32(data[4*i:], uint32(off))
		if i < len(names) {
			off += len(names[i]) + 1
		}
	}
	for _, s := range names {
		data = append(append(data, s...), 0)
	}
	return &Atom{Name: ErrTabSymbol, Kind: ROData, Align: 4, Data: data, Size: uint64(len(data))}
}

// Objects splits a compiled program into units relocatable objects (on
// every core, names called from several goroutines): unitOf
// gives each function's and global's unit (ir.Partition); the entry stub
// and the error table go to unit 0. Each object defines its atoms' symbols
// and declares every symbol it references but does not define as
// undefined. The objects own their bytes (copies of the atoms').
func Objects(p *Program, unitOf map[string]int, units int, names func(unit int) string) ([]*Object, error) {
	objs := make([]*Object, units)
	if err := eachObject(p, unitOf, units, names, true, func(u int, o *Object) error {
		objs[u] = o
		return nil
	}); err != nil {
		return nil, err
	}
	return objs, nil
}

// EachObject makes the objects Objects makes, one per unit on every core,
// and calls fn with each as soon as it is made, on the goroutine that made
// it (so fn is called concurrently); the error is the first unit's in
// order. The objects share the atoms' bytes: fn must not change them or
// keep the object (a writer serializing it is the use: only one unit's
// object per core is alive at a time).
func EachObject(p *Program, unitOf map[string]int, units int, names func(unit int) string, fn func(unit int, o *Object) error) error {
	return eachObject(p, unitOf, units, names, false, fn)
}

func eachObject(p *Program, unitOf map[string]int, units int, names func(unit int) string, copyData bool, fn func(unit int, o *Object) error) error {
	if units < 1 {
		return fmt.Errorf("obj: %d units: need at least 1", units)
	}
	byUnit := make([][]*Atom, units)
	for _, a := range p.Atoms {
		u := 0
		if a.Name != EntrySymbol && a.Name != ErrTabSymbol {
			var ok bool
			u, ok = unitOf[a.Name]
			if !ok {
				return fmt.Errorf("obj: no unit for %q", a.Name)
			}
			if u < 0 || u >= units {
				return fmt.Errorf("obj: unit %d of %q out of range 0..%d", u, a.Name, units-1)
			}
		}
		byUnit[u] = append(byUnit[u], a)
	}
	return par.Each(units, func(u int) error {
		o, err := atomObject(names(u), byUnit[u], copyData)
		if err != nil {
			return err
		}
		return fn(u, o)
	})
}

// atomObject makes one object of atoms: a section and a symbol per atom,
// then the undefined symbols its relocations name, sorted. The sections'
// bytes are copies of the atoms' when copyData is set, else the atoms'.
func atomObject(name string, atoms []*Atom, copyData bool) (*Object, error) {
	o := &Object{Name: name, Sections: make([]*Section, len(atoms)), Symbols: make([]*Symbol, len(atoms), len(atoms)+len(atoms)/4)}
	// One array each for the sections, the symbols and the relocations.
	secs, syms := make([]Section, len(atoms)), make([]Symbol, len(atoms))
	nrelocs := 0
	for _, a := range atoms {
		nrelocs += len(a.Relocs)
	}
	relocs := make([]Reloc, nrelocs)
	index := make(map[string]int, len(atoms))
	for i, a := range atoms {
		sec := &secs[i]
		*sec = Section{Name: a.SectionName(), Kind: a.Kind, Align: a.Align, Size: a.Size}
		if a.Kind != BSS {
			sec.Data = a.Data
			if copyData {
				sec.Data = append([]byte(nil), a.Data...)
			}
		}
		o.Sections[i] = sec
		kind := SymData
		if a.IsFunc() {
			kind = SymFunc
		}
		bind := Global
		if a.Local {
			bind = Local
		}
		index[a.Name] = i
		syms[i] = Symbol{Name: a.Name, Section: i, Size: a.Size, Bind: bind, Kind: kind}
		o.Symbols[i] = &syms[i]
	}
	// Relocations against defined symbols get their index at once, the
	// others -1-k for the k-th undefined name met, renumbered below once
	// the undefined names are sorted.
	var undef []string
	undefK := make(map[string]int)
	next := 0
	for i, a := range atoms {
		if len(a.Relocs) == 0 {
			continue
		}
		rs := relocs[next : next+len(a.Relocs) : next+len(a.Relocs)]
		next += len(a.Relocs)
		for j, r := range a.Relocs {
			sym, ok := index[r.Sym]
			if !ok {
				k, seen := undefK[r.Sym]
				if !seen {
					k = len(undef)
					undefK[r.Sym] = k
					undef = append(undef, r.Sym)
				}
				sym = -1 - k
			}
			rs[j] = Reloc{Offset: r.Offset, Kind: r.Kind, Sym: sym, Addend: r.Addend}
		}
		o.Sections[i].Relocs = rs
	}
	if len(undef) > 0 {
		order := make([]int, len(undef))
		for k := range order {
			order[k] = k
		}
		sort.Slice(order, func(x, y int) bool { return undef[order[x]] < undef[order[y]] })
		final := make([]int, len(undef))
		usyms := make([]Symbol, len(undef))
		for rank, k := range order {
			final[k] = len(o.Symbols)
			usyms[rank] = Symbol{Name: undef[k], Section: Undef, Bind: Global}
			o.Symbols = append(o.Symbols, &usyms[rank])
		}
		for j := range relocs {
			if relocs[j].Sym < 0 {
				relocs[j].Sym = final[-1-relocs[j].Sym]
			}
		}
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("obj: %w", err)
	}
	return o, nil
}
