// Package fault is the catalogue of deliberate defects that linkcheck can
// plant in its own reference implementation, to prove that every judge
// catches the bug it exists for (fault injection). A Set of faults travels
// in the options of the code generator, the full linker and the
// incremental linker; it is never part of saved state, and the zero Set
// plants nothing.
package fault

import (
	"fmt"
	"sort"
	"strings"
)

// Fault is one seeded defect.
type Fault uint8

// The defects. Each names the component it breaks and what it gets wrong.
const (
	// SeedErrTab is the defect of seed 000 (Zig's "implement error name"
	// commit): the error table stores one offset per name, and the
	// lowering reads the end of error k from offset k, so the last name's
	// end is read from the first bytes of the name blob (ref/obj's
	// ErrorTable and ref/codegen).
	SeedErrTab Fault = iota + 1
	// TrampolineBase computes a trampoline's displacement from the start of
	// the jmp instead of its end (off by 5; ref/incr).
	TrampolineBase
	// SkipGOTRewrite leaves a moved symbol's GOT slot stale (ref/incr).
	SkipGOTRewrite
	// FreeTrampolineSite hands a moved function's whole old slot back to
	// the free list although callers still jump to its trampoline there
	// (ref/incr).
	FreeTrampolineSite
	// StaleSymbols does not rewrite the symbol table when only symbol
	// addresses changed (ref/incr's output file).
	StaleSymbols
	// GrowWithoutMove grows a region without moving the regions after it
	// in the file (ref/incr's output file).
	GrowWithoutMove
	numFaults
)

var names = [...]string{
	SeedErrTab:         "seed-errtab",
	TrampolineBase:     "trampoline-base",
	SkipGOTRewrite:     "skip-got-rewrite",
	FreeTrampolineSite: "free-trampoline-site",
	StaleSymbols:       "stale-symbols",
	GrowWithoutMove:    "grow-without-move",
}

// String returns the fault's catalogue name.
func (f Fault) String() string {
	if f > 0 && f < numFaults {
		return names[f]
	}
	return fmt.Sprintf("fault(%d)", uint8(f))
}

// All lists every fault of the catalogue, in order.
func All() []Fault {
	fs := make([]Fault, 0, numFaults-1)
	for f := Fault(1); f < numFaults; f++ {
		fs = append(fs, f)
	}
	return fs
}

// Parse returns the fault with the given catalogue name.
func Parse(name string) (Fault, error) {
	for _, f := range All() {
		if f.String() == name {
			return f, nil
		}
	}
	known := make([]string, 0, numFaults)
	for _, f := range All() {
		known = append(known, f.String())
	}
	sort.Strings(known)
	return 0, fmt.Errorf("unknown fault %q (known: %s)", name, strings.Join(known, ", "))
}

// Set is a set of faults; the zero value is empty.
type Set uint64

// Of returns the set of the given faults.
func Of(fs ...Fault) Set {
	var s Set
	for _, f := range fs {
		s |= 1 << f
	}
	return s
}

// Has reports whether f is in the set.
func (s Set) Has(f Fault) bool { return s&(1<<f) != 0 }

// String lists the set's faults by name, comma-separated ("" when empty).
func (s Set) String() string {
	var parts []string
	for _, f := range All() {
		if s.Has(f) {
			parts = append(parts, f.String())
		}
	}
	return strings.Join(parts, ",")
}
