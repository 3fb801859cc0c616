package obj

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// AbsPrefix starts the names of the absolute symbols AbsoluteData
// defines ("_lc_abs_g1"): a reserved name, as program identifiers cannot
// start with an underscore.
const AbsPrefix = "_lc_abs_"

// AbsoluteData is an object-level transform of the full-link tests: in
// every object that has an integer global or const (an 8-byte data
// section without relocations), it makes one of them, chosen by seed,
// take its value from an absolute symbol (ELF SHN_ABS, Mach-O N_ABS, COFF
// IMAGE_SYM_ABSOLUTE): the 8 bytes are cleared and an Abs64 relocation
// against the symbol writes S + A back. S is the value's low 31 bits (a
// COFF symbol value has 32), A the rest. The symbol is a global defined
// in the next object (the same one when there is one object), so that the
// reference resolves across objects. The program's meaning does not
// change; what changes is that the link holds absolute symbols and a
// pointer-sized field whose value is no address: a linker must not rebase
// it, relocate it by the image base, or give it a GOT slot.
//
// AbsoluteData returns one line per rewrite ("u1.o: g2 =
// _lc_abs_g2+0x80000000, _lc_abs_g2 = 0x5 defined in u2.o"), in object
// order.
func AbsoluteData(objs []*Object, seed int64) []string {
	next := splitmix(seed ^ 0x5bd1e995)
	var log []string
	for oi, o := range objs {
		type cand struct {
			sec  int
			name string
		}
		var cands []cand
		for _, s := range o.Symbols {
			if !s.Defined() || s.Section < 0 || s.Value != 0 || s.Size != 8 || s.Bind == Local || s.Kind != SymData {
				continue
			}
			sec := o.Sections[s.Section]
			if (sec.Kind != Data && sec.Kind != ROData) || sec.Size != 8 || len(sec.Relocs) != 0 || sec.Merge || sec.Strings {
				continue
			}
			if o.Lookup(AbsPrefix+s.Name) >= 0 {
				continue
			}
			cands = append(cands, cand{s.Section, s.Name})
		}
		if len(cands) == 0 {
			continue
		}
		sort.SliceStable(cands, func(i, j int) bool { return cands[i].name < cands[j].name })
		c := cands[next(len(cands))]
		sec := o.Sections[c.sec]
		v := binary.LittleEndian.Uint64(sec.Data)
		s := v & 0x7fffffff
		a := int64(v - s)
		name := AbsPrefix + c.name
		def := objs[(oi+1)%len(objs)]
		def.Symbols = append(def.Symbols, &Symbol{Name: name, Section: Abs, Value: s, Bind: Global, Kind: SymNone})
		ref := len(def.Symbols) - 1
		if def != o {
			o.Symbols = append(o.Symbols, &Symbol{Name: name, Section: Undef, Bind: Global})
			ref = len(o.Symbols) - 1
		}
		clear(sec.Data)
		sec.Relocs = []Reloc{{Offset: 0, Kind: Abs64, Sym: ref, Addend: a}}
		log = append(log, fmt.Sprintf("%s: %s = %s%+#x, %s = %#x defined in %s", o.Name, c.name, name, a, name, s, def.Name))
	}
	return log
}

// splitmix returns a deterministic draw in [0, n) seeded by seed
// (splitmix64), without a rand.Rand.
func splitmix(seed int64) func(n int) int {
	h := uint64(seed)*0x9e3779b97f4a7c15 + 1
	return func(n int) int {
		h += 0x9e3779b97f4a7c15
		z := h
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		return int((z ^ z>>31) % uint64(n))
	}
}
