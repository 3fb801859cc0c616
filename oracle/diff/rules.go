package diff

import (
	"sort"

	"github.com/linkcheck/linkcheck/oracle/canon"
)

// Rule is a named, documented, intended difference between correct links
// that `--ignore NAME` suppresses. A rule lists the keys it may apply to;
// no rule lists text.insn, text.operand, data.bytes or data.pointer, so no
// rule can hide a code or data target.
type Rule struct {
	Name   string
	Reason string
	Keys   []string
	// match decides, for a difference under one of Keys, whether the rule
	// applies; nil means always.
	match func(c *comparer, d *Difference) bool
}

func (r *Rule) applies(c *comparer, d *Difference) bool {
	for _, k := range r.Keys {
		if k == d.Key {
			return r.match == nil || r.match(c, d)
		}
	}
	return false
}

// synthetic reports whether the difference's symbol is linker-defined on
// every side where it exists.
func synthetic(c *comparer, d *Difference) bool {
	found := false
	for _, im := range []*canon.Image{c.a, c.b} {
		if s := im.Lookup(d.Symbol); s != nil {
			if !s.Synthetic {
				return false
			}
			found = true
		}
	}
	return found
}

// rules is the registry. Keep docs/canon.md in step.
var rules = []Rule{
	{
		Name: "padding",
		Reason: "Functions without st_size (hand-written assembly) get an inferred extent that ends in the " +
			"fill a linker puts between functions: ld.lld fills with int3, other linkers with nop or zero. " +
			"Fill is not code any path executes; the instructions before it are still compared.",
		Keys: []string{KeyTextPadding},
	},
	{
		Name: "synthetic-symbols",
		Reason: "Each linker defines its own reserved symbols (_GLOBAL_OFFSET_TABLE_, __bss_start, _end, " +
			"__ehdr_start, ...) that no input object defines. Their presence, size and section are the " +
			"linker's business; references to them in code and data are still compared.",
		Keys:  []string{KeySymbolMissing, KeySymbolExtra, KeySymbolKind, KeySymbolSize, KeySymbolBinding, KeySectionFlags},
		match: synthetic,
	},
	{
		Name: "section-flags",
		Reason: "Linkers may place read-only data in a writable segment (e.g. a const holding a pointer in " +
			".data.rel.ro, made writable by a linker without RELRO) or merge sections of different " +
			"flags. Only the flags are ignored; contents are compared.",
		Keys: []string{KeySectionFlags},
	},
}

// Rules returns the registry of ignore rules, sorted by name.
func Rules() []Rule {
	out := append(append([]Rule(nil), rules...), linkerRules...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// RuleNames returns the names of the rules, sorted.
func RuleNames() []string {
	var names []string
	for _, r := range Rules() {
		names = append(names, r.Name)
	}
	return names
}

// LookupRule returns the rule named name.
func LookupRule(name string) (Rule, bool) {
	for _, r := range Rules() {
		if r.Name == name {
			return r, true
		}
	}
	return Rule{}, false
}
