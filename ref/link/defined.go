package link

import (
	"errors"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// LinkerDefiner is an optional interface of a Platform whose linker
// defines symbols that objects refer to and nothing defines (ld.lld's
// _end, _etext, __start_SEC, ...). Such a symbol is defined only when
// referenced, as ld.lld's optional symbols are.
type LinkerDefiner interface {
	// LinkerDefined reports whether the platform defines name for the
	// layout's output sections (known, addresses not yet assigned); an
	// error refuses the link (a linker-defined symbol the platform does
	// not support).
	LinkerDefined(l *Layout, name string) (bool, error)
	// DefineSymbol returns the address of the linker-defined symbol name,
	// the index in l.Sections of the section it is written in (-1: the
	// file header, written as the first section), and its visibility,
	// once every section has its address.
	DefineSymbol(l *Layout, name string) (addr uint64, out int, vis obj.Visibility)
}

// internalName is the name of the synthetic object that holds the
// linker-defined symbols.
const internalName = "<internal>"

// defineLinkerSymbols gives every referenced, undefined global that the
// platform defines a definition in a synthetic object appended to
// l.Objects (no sections, symbols absolute until setLinkerSymbols).
func (l *Layout) defineLinkerSymbols(p Platform) error {
	d, ok := p.(LinkerDefiner)
	if !ok {
		return nil
	}
	var internal *obj.Object
	var errs []error
	for i := range l.Symbols {
		s := &l.Symbols[i]
		if s.Defined() || s.Bind == obj.Local {
			continue
		}
		ok, err := d.LinkerDefined(l, s.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue
		}
		if internal == nil {
			internal = &obj.Object{Name: internalName}
			l.Objects = append(l.Objects, internal)
			l.Placements = append(l.Placements, nil)
			l.SymIndex = append(l.SymIndex, nil)
		}
		oi := len(l.Objects) - 1
		internal.Symbols = append(internal.Symbols, &obj.Symbol{Name: s.Name, Section: obj.Abs, Bind: obj.Global})
		l.SymIndex[oi] = append(l.SymIndex[oi], int32(i))
		s.Obj, s.Index, s.Sec = int32(oi), int32(len(internal.Symbols)-1), obj.Abs
		s.Bind, s.Kind, s.Size, s.Value = obj.Global, obj.SymNone, 0, 0
		s.Synthetic = true
		s.OutSection = -1
	}
	return errors.Join(errs...)
}

// setLinkerSymbols gives the linker-defined symbols their addresses.
func (l *Layout) setLinkerSymbols(p Platform) {
	d, ok := p.(LinkerDefiner)
	if !ok {
		return
	}
	for i := range l.Symbols {
		s := &l.Symbols[i]
		if !s.Synthetic {
			continue
		}
		addr, out, vis := d.DefineSymbol(l, s.Name)
		s.Addr, s.Value, s.OutSection = addr, addr, int32(out)
		s.Visibility = s.Visibility.Combine(vis)
		l.Objects[s.Obj].Symbols[s.Index].Value = addr
	}
	if l.EntrySym >= 0 {
		l.Entry = l.Symbols[l.EntrySym].Addr
	}
}
