package coff

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// The neutral model has no COMDAT field: ResolveComdats applies lld-link's
// COMDAT selection to the objects Read decoded, before the link pipeline
// sees them.

// comdatCopy is the kept copy of a COMDAT, by leader name.
type comdatCopy struct {
	file, sec int
	sel       uint8
}

// ResolveComdats keeps one copy of every COMDAT whose leader is external,
// as lld-link selects it — the first for IMAGE_COMDAT_SELECT_ANY, the
// first of equal size for SAME_SIZE, of equal contents for EXACT_MATCH,
// the largest for LARGEST, none twice for NODUPLICATES — and returns the
// objects without the discarded sections and the sections associated with
// them (IMAGE_COMDAT_SELECT_ASSOCIATIVE, transitively). A global defined in
// a discarded section becomes an undefined reference to the kept copy; a
// relocation against a local symbol of a discarded section is an error.
func ResolveComdats(files []*File) ([]*obj.Object, error) {
	kept := map[string]comdatCopy{}
	drop := make([]map[int]bool, len(files))
	var errs []error
	for fi, f := range files {
		drop[fi] = map[int]bool{}
		for _, c := range f.Comdats {
			if c.Selection == ComdatAssociative || c.Leader < 0 || c.Leader >= len(f.Object.Symbols) {
				continue
			}
			leader := f.Object.Symbols[c.Leader]
			if leader.Bind == obj.Local {
				continue // a static leader is not shared
			}
			prev, seen := kept[leader.Name]
			if !seen {
				kept[leader.Name] = comdatCopy{fi, c.Section, c.Selection}
				continue
			}
			ps := files[prev.file].Object.Sections[prev.sec]
			s := f.Object.Sections[c.Section]
			dup := func() {
				errs = append(errs, fmt.Errorf("duplicate symbol: %s\n>>> defined at %s\n>>> defined at %s", leader.Name,
					files[prev.file].Object.Name, f.Object.Name))
			}
			switch c.Selection {
			case ComdatNoDuplicates:
				dup()
			case ComdatSameSize:
				if ps.Size != s.Size {
					dup()
				}
			case ComdatExactMatch:
				if ps.Size != s.Size || !bytes.Equal(ps.Data, s.Data) || len(ps.Relocs) != len(s.Relocs) {
					dup()
				}
			case ComdatLargest:
				if s.Size > ps.Size {
					drop[prev.file][prev.sec] = true
					kept[leader.Name] = comdatCopy{fi, c.Section, c.Selection}
					continue
				}
			}
			drop[fi][c.Section] = true
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out := make([]*obj.Object, len(files))
	for fi, f := range files {
		// Associated sections follow their parents, to a fixed point.
		for changed := true; changed; {
			changed = false
			for _, c := range f.Comdats {
				if c.Selection == ComdatAssociative && drop[fi][c.Associate] && !drop[fi][c.Section] {
					drop[fi][c.Section] = true
					changed = true
				}
			}
		}
		if len(drop[fi]) == 0 {
			out[fi] = f.Object
			continue
		}
		o, err := without(f.Object, drop[fi])
		if err != nil {
			return nil, err
		}
		out[fi] = o
	}
	return out, nil
}

// without returns o without the sections in drop.
func without(o *obj.Object, drop map[int]bool) (*obj.Object, error) {
	n := &obj.Object{Name: o.Name, File: o.File}
	newIdx := make([]int, len(o.Sections))
	for i, s := range o.Sections {
		if drop[i] {
			newIdx[i] = -1
			continue
		}
		newIdx[i] = len(n.Sections)
		n.Sections = append(n.Sections, s)
	}
	dead := map[int]bool{} // local symbols of dropped sections
	for k, s := range o.Symbols {
		c := *s
		if s.Section >= 0 {
			if ni := newIdx[s.Section]; ni >= 0 {
				c.Section = ni
			} else if s.Bind == obj.Local {
				dead[k] = true
				c.Section, c.Value, c.Size = obj.Abs, 0, 0
			} else {
				c.Section, c.Value, c.Size, c.Kind = obj.Undef, 0, 0, obj.SymNone
			}
		}
		n.Symbols = append(n.Symbols, &c)
	}
	for _, s := range n.Sections {
		for _, r := range s.Relocs {
			if dead[r.Sym] {
				return nil, fmt.Errorf("%s: section %s: relocation at %#x against %s, a local symbol of a discarded COMDAT section", o.Name, s.Name, r.Offset, o.Symbols[r.Sym].Name)
			}
		}
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	return n, nil
}
