package ir

// Deps is what of its module a function's lowering read, recorded as it
// lowers, so that a compiler server (codegen.Compiler, wasmgen.Compiler)
// can keep the function's code for a later version that reads the same:
// the value of each error the function names and, for each name whose
// address it takes, the one fact about the name the lowering depends on
// (codegen: whether the function is local; wasmgen: whether the name is a
// function's). Repeats are kept: a function names few.
type Deps struct {
	errs  []errDep
	names []nameDep
}

type errDep struct {
	name  string
	value uint64
}

type nameDep struct {
	name string
	fact bool
}

// Reset empties d, keeping its memory, for the next function.
func (d *Deps) Reset() { d.errs, d.names = d.errs[:0], d.names[:0] }

// Error records that the lowering read value for error name.
func (d *Deps) Error(name string, value uint64) { d.errs = append(d.errs, errDep{name, value}) }

// Name records that the lowering read fact about name.
func (d *Deps) Name(name string, fact bool) { d.names = append(d.names, nameDep{name, fact}) }

// Clone returns a copy of d that d's later use does not change.
func (d Deps) Clone() Deps {
	return Deps{errs: append([]errDep(nil), d.errs...), names: append([]nameDep(nil), d.names...)}
}

// Same reports whether errValue and fact, another version's answers,
// give every recorded read the result it had.
func (d Deps) Same(errValue func(name string) uint64, fact func(name string) bool) bool {
	for _, e := range d.errs {
		if errValue(e.name) != e.value {
			return false
		}
	}
	for _, n := range d.names {
		if fact(n.name) != n.fact {
			return false
		}
	}
	return true
}
