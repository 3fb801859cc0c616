package obj

import (
	"fmt"
	"sort"
	"strings"
)

// ShadowLocals is an object-level transform of the full-link tests: in
// every object that has a local function and that does not mention the
// name of some global another object defines, it renames one such local
// to one such global's name, both chosen by seed. The program's meaning
// does not change, because relocations name symbols by index: the
// local's references stay inside its object and bound to it, and the
// global's references from other objects stay bound to the global. What
// changes is that the link now holds a local and a global of the same
// name in different objects, which the .lir language (one namespace per
// program) cannot express and which a linker that resolves names without
// looking at bindings gets wrong.
//
// The reserved names of compiled programs (EntrySymbol, ErrTabSymbol)
// are never taken: tools find them by name. ShadowLocals returns one line
// per rename ("u1.o: local f3 renamed g2, a global of u0.o"), in object
// order; none when no object has a candidate.
func ShadowLocals(objs []*Object, seed int64) []string {
	// Globals defined by each object, by name.
	type def struct {
		name string
		obj  int
	}
	var globals []def
	for oi, o := range objs {
		for _, s := range o.Symbols {
			if s.Defined() && s.Section >= 0 && (s.Bind == Global || s.Bind == Weak) &&
				(s.Kind == SymFunc || s.Kind == SymData) && s.Name != EntrySymbol && s.Name != ErrTabSymbol {
				globals = append(globals, def{s.Name, oi})
			}
		}
	}
	sort.SliceStable(globals, func(i, j int) bool { return globals[i].name < globals[j].name })
	next := splitmix(seed)
	var log []string
	for oi, o := range objs {
		var locals []int
		names := make(map[string]bool, len(o.Symbols))
		for k, s := range o.Symbols {
			names[s.Name] = true
			if s.Bind == Local && s.Kind == SymFunc && s.Defined() && s.Section >= 0 {
				locals = append(locals, k)
			}
		}
		var cands []def
		for _, g := range globals {
			if g.obj != oi && !names[g.name] && (len(cands) == 0 || cands[len(cands)-1].name != g.name) {
				cands = append(cands, g)
			}
		}
		if len(locals) == 0 || len(cands) == 0 {
			continue
		}
		s := o.Symbols[locals[next(len(locals))]]
		g := cands[next(len(cands))]
		log = append(log, fmt.Sprintf("%s: local %s renamed %s, a global of %s", o.Name, s.Name, g.name, objs[g.obj].Name))
		s.Name = g.name
	}
	return log
}

// RewriteNote formats the lines of the object rewrites (ShadowLocals,
// AbsoluteData) for a failure message: "" when nothing was rewritten.
func RewriteNote(log []string) string {
	if len(log) == 0 {
		return ""
	}
	return "object rewrites: " + strings.Join(log, "; ")
}
