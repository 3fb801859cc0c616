package link

import (
	"errors"
	"fmt"

	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/par"
)

// resolve builds the link's symbol table. Local symbols each get their own
// entry; global and weak names get one entry each, bound to their
// definition: a global definition wins over weak ones, the first weak
// definition wins among weak ones, and two global definitions are an error
// reported as ld.lld does:
//
//	duplicate symbol: f
//	>>> defined at a.o:(.text+0x0)
//	>>> defined at b.o:(.text.f+0x0)
//
// With fault.LinkLocalAsGlobal, a local's references are bound to a
// global of the same name that another object defines.
func (l *Layout) resolve(opts Options) error {
	// The objects are checked first, in parallel (the error is the first
	// in input order), and counted: every entry is stored once in slabs
	// sized here.
	if err := par.Each(len(l.Objects), func(oi int) error { return l.Objects[oi].Validate() }); err != nil {
		return fmt.Errorf("link: %w", err)
	}
	// The name map is sized for the defined non-local symbols: most names
	// have one definition, and the references to them add no entry.
	n, defined := 0, 0
	for _, o := range l.Objects {
		n += len(o.Symbols)
		for _, s := range o.Symbols {
			if s.Bind != obj.Local && s.Defined() {
				defined++
			}
		}
	}
	r := newResolver(l, n, defined)
	idxSlab := make([]int32, n)
	for oi, o := range l.Objects {
		k := len(o.Symbols)
		r.add(oi, idxSlab[:k:k])
		idxSlab = idxSlab[k:]
	}
	return r.finish(opts)
}

// resolver builds a link's symbol table object by object, in input order
// (resolve, and LinkFiles while the later objects are still read).
type resolver struct {
	l *Layout
	// objects counts the objects added; errs are the duplicate
	// definitions, in input order.
	objects int
	errs    []error
}

// newResolver starts the symbol table of l, with room for symbols entries
// and defined names.
func newResolver(l *Layout, symbols, defined int) *resolver {
	l.Symbols = make([]Symbol, 0, symbols)
	l.SymIndex = make([][]int32, len(l.Objects))
	l.Globals = make(map[string]int32, defined)
	return &resolver{l: l}
}

// add resolves the symbols of object oi, a valid object, the next in
// input order, into idx (one entry per symbol), which becomes its
// SymIndex.
func (r *resolver) add(oi int, idx []int32) {
	l := r.l
	o := l.Objects[oi]
	l.SymIndex[oi] = idx
	r.objects++
	for k, s := range o.Symbols {
		if s.Bind == obj.Local {
			idx[k] = int32(len(l.Symbols))
			e := l.newSymbol(s.Name)
			e.Obj, e.Index, e.Sec = int32(oi), int32(k), int32(s.Section)
			e.Value, e.Size, e.Bind, e.Kind = s.Value, s.Size, s.Bind, s.Kind
			continue
		}
		gi, ok := l.Globals[s.Name]
		if !ok {
			gi = int32(len(l.Symbols))
			l.Globals[s.Name] = gi
			e := l.newSymbol(s.Name)
			e.Obj, e.Index, e.Sec, e.Bind = -1, -1, obj.Undef, s.Bind
		}
		idx[k] = gi
		g := &l.Symbols[gi]
		g.Visibility = g.Visibility.Combine(s.Visibility)
		if !s.Defined() {
			if s.Bind != obj.Weak {
				g.strongRef = true
			}
			continue
		}
		if g.Defined() {
			prev := l.Objects[g.Obj].Symbols[g.Index]
			switch {
			case s.Bind == obj.Weak:
				continue // an earlier definition stays
			case prev.Bind == obj.Global:
				r.errs = append(r.errs, fmt.Errorf("duplicate symbol: %s\n>>> defined at %s\n>>> defined at %s",
					s.Name, l.symWhere(int(g.Obj), prev), l.symWhere(oi, s)))
				continue
			}
		}
		g.Obj, g.Index, g.Sec = int32(oi), int32(k), int32(s.Section)
		g.Value, g.Size, g.Bind, g.Kind = s.Value, s.Size, s.Bind, s.Kind
	}
}

// finish ends the table once every object is added.
func (r *resolver) finish(opts Options) error {
	if opts.Faults.Has(fault.LinkLocalAsGlobal) {
		r.l.bindLocalsByName()
	}
	return errors.Join(r.errs...)
}

// newSymbol appends an entry named name, without a GOT slot, to
// l.Symbols, within the capacity resolve gave it, and returns it. Its
// fields are set one by one, a plain store first: a whole-struct store
// reads the old pointer first while the collector marks, and a read is
// the first touch of a fresh page (the kernel maps its zero page, then
// copies it on the write, with a TLB flush on every core).
func (l *Layout) newSymbol(name string) *Symbol {
	n := len(l.Symbols)
	if n == cap(l.Symbols) {
		l.Symbols = append(l.Symbols, Symbol{})
	} else {
		l.Symbols = l.Symbols[:n+1]
	}
	e := &l.Symbols[n]
	e.GOTSlot = -1
	e.Name = name
	return e
}

// bindLocalsByName is fault.LinkLocalAsGlobal: a lookup by name that
// forgets the binding, so that a local of one object whose name another
// object defines as a global is bound to that global.
func (l *Layout) bindLocalsByName() {
	for oi, o := range l.Objects {
		for k, s := range o.Symbols {
			if s.Bind != obj.Local || s.Kind == obj.SymSection {
				continue
			}
			if gi, ok := l.Globals[s.Name]; ok && l.Symbols[gi].Defined() && l.Symbols[gi].Obj != int32(oi) {
				l.SymIndex[oi][k] = gi
			}
		}
	}
}

// symWhere formats a definition's place as ld.lld does: "a.o:(.text+0x0)",
// or "a.o:(*ABS*)" for an absolute symbol.
func (l *Layout) symWhere(oi int, s *obj.Symbol) string {
	o := l.Objects[oi]
	if s.Section < 0 {
		return o.Name + ":(*ABS*)"
	}
	return fmt.Sprintf("%s:(%s+0x%X)", o.Name, o.Sections[s.Section].Name, s.Value)
}
