package canon

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// Anonymous input data. Compilers put some read-only data in sections that
// no symbol names: clang's jump tables (`.rodata`, reached through
// `.LJTI0_0`, a label the assembler drops), string literals
// (`.rodata.str1.1`, SHF_MERGE|SHF_STRINGS) and floating-point or vector
// constants (`.rodata.cst16`, SHF_MERGE). Code refers to them through the
// section symbol plus an addend, so their output addresses have no name,
// and a name made from an address would differ between two correct links.
// With the input objects at hand, each gets a layout-independent name:
//
//   - a whole anonymous section (no symbol defined in it, not mergeable) is
//     located in the output by its contents — bytes outside relocated
//     fields equal, every relocated field holding the value its relocation
//     asks for — and becomes a pseudo-symbol named `FILE:(SECTION)`
//     (Symbol.Anon) whose bytes and pointers are compared like any data
//     symbol's. A section that cannot be located (a linker wrote a wrong
//     entry) stays unnamed, so every reference to it differs;
//   - an address in a merged string is named by the string it points at,
//     `str"..."`, when that string is (a suffix of) a string of an input
//     SHF_STRINGS section — whatever the output section's flags;
//   - an address in a merged constant is named by the constant's bytes,
//     `cst16(00112233...)`, when an input SHF_MERGE section of that entry
//     size holds those bytes.

// maxAnonWork bounds the bytes compared while locating the anonymous
// sections of one executable.
const maxAnonWork = 1 << 26

// inputData is what the input objects say about data without symbols.
type inputData struct {
	// revStrings are the strings of every SHF_STRINGS input section,
	// reversed and sorted, so that suffix lookups are prefix searches.
	revStrings []string
	// consts maps an entry size to the set of entries of the non-string
	// SHF_MERGE input sections of that entry size.
	consts map[uint64]map[string]bool
	// constSizes are the keys of consts, largest first.
	constSizes []uint64
}

func reverse(b []byte) string {
	r := make([]byte, len(b))
	for i, c := range b {
		r[len(b)-1-i] = c
	}
	return string(r)
}

// collectInputData gathers the merged strings and constants of objs.
func collectInputData(objs []*obj.Object) *inputData {
	d := &inputData{consts: map[uint64]map[string]bool{}}
	for _, o := range objs {
		if o == nil {
			continue
		}
		for _, sec := range o.Sections {
			if sec == nil || !sec.Merge || sec.Kind == obj.Text || sec.Kind == obj.BSS {
				continue
			}
			if sec.Strings {
				for rest := sec.Data; len(rest) > 0; {
					n := bytes.IndexByte(rest, 0)
					if n < 0 {
						break
					}
					d.revStrings = append(d.revStrings, reverse(rest[:n]))
					rest = rest[n+1:]
				}
				continue
			}
			e := sec.EntSize
			if e == 0 || e > 64 || uint64(len(sec.Data))%e != 0 {
				continue
			}
			set := d.consts[e]
			if set == nil {
				set = map[string]bool{}
				d.consts[e] = set
				d.constSizes = append(d.constSizes, e)
			}
			for i := uint64(0); i < uint64(len(sec.Data)); i += e {
				set[string(sec.Data[i:i+e])] = true
			}
		}
	}
	sort.Strings(d.revStrings)
	sort.Slice(d.constSizes, func(i, j int) bool { return d.constSizes[i] > d.constSizes[j] })
	return d
}

// isInputString reports whether s is a suffix of an input string (a
// linker may merge "bar" into the tail of "foobar").
func (d *inputData) isInputString(s []byte) bool {
	rs := reverse(s)
	i := sort.SearchStrings(d.revStrings, rs)
	return i < len(d.revStrings) && strings.HasPrefix(d.revStrings[i], rs)
}

// readOnly reports whether sec holds read-only data with file contents.
func (sec *section) readOnly() bool { return sec.flags == "A" && !sec.nobits }

// mergedName names addr, in no symbol, after the merged string or
// constant it lies in, using the input objects; off is addr's offset in
// the constant.
func (r *reader) mergedName(addr uint64) (name string, off int64, ok bool) {
	sec := r.sectionAt(addr)
	if sec == nil || !sec.readOnly() {
		return "", 0, false
	}
	rest := sec.data[addr-sec.addr:]
	if n := bytes.IndexByte(rest[:min(len(rest), maxString+1)], 0); n >= 0 && r.input.isInputString(rest[:n]) {
		return "str" + strconv.Quote(string(rest[:n])), 0, true
	}
	for _, e := range r.input.constSizes {
		start := addr - (addr-sec.addr)%e // entries are aligned within the section
		b := r.bytesAt(start, e)
		if b != nil && r.input.consts[e][string(b)] {
			return fmt.Sprintf("cst%d(%s)", e, hex.EncodeToString(b)), int64(addr - start), true
		}
	}
	return "", 0, false
}

// anonSection is an input section that no symbol names.
type anonSection struct {
	name string // FILE:(SECTION), FILE the object's base name
	o    *obj.Object
	sec  *obj.Section
	// fields are the relocated byte ranges, sorted; gaps the byte ranges
	// outside them, in order.
	fields []obj.Reloc
	gaps   [][2]uint64
	// wants[i] is what fields[i] must reach, nil when that cannot be told
	// (set by locateAnon).
	wants []*expectation
}

// inputMap maps input (section, offset) places to output addresses through
// the symbols that contain them.
type inputMap struct {
	defs map[*obj.Object][][]*obj.Symbol // per object, per section: defined symbols by value
	out  map[string][]*Symbol            // output symbols by name
}

func (r *reader) newInputMap(objs []*obj.Object) *inputMap {
	m := &inputMap{defs: map[*obj.Object][][]*obj.Symbol{}, out: map[string][]*Symbol{}}
	for _, s := range r.syms {
		if s.sec != nil {
			m.out[s.Name] = append(m.out[s.Name], s)
		}
	}
	for _, o := range objs {
		if o == nil {
			continue
		}
		per := make([][]*obj.Symbol, len(o.Sections))
		for _, s := range o.Symbols {
			if s != nil && s.Section >= 0 && s.Section < len(per) && s.Kind != obj.SymSection && s.Name != "" {
				per[s.Section] = append(per[s.Section], s)
			}
		}
		for _, list := range per {
			sort.SliceStable(list, func(i, j int) bool { return list[i].Value < list[j].Value })
		}
		m.defs[o] = per
	}
	return m
}

// expectation is what a relocated field must reach: an output address,
// or, for a place in merged input data (a string literal, a constant),
// bytes equal to that data wherever the linker put it, at the field's
// target less skip.
type expectation struct {
	addr    uint64
	content []byte
	skip    uint64
}

// target returns what relocation rel of o asks for (S + A), or false when
// it cannot be told: the place is in no named symbol and no merged data,
// or that symbol is not uniquely in the output.
func (m *inputMap) target(o *obj.Object, rel obj.Reloc) (expectation, bool) {
	if rel.Sym < 0 || rel.Sym >= len(o.Symbols) || o.Symbols[rel.Sym] == nil {
		return expectation{}, false
	}
	s := o.Symbols[rel.Sym]
	if s.Section >= 0 && s.Section < len(o.Sections) {
		if sec := o.Sections[s.Section]; sec != nil && sec.Merge {
			// A place in merged data: a section symbol plus an offset,
			// or a kept label (.L.str.5) plus an addend that is not part
			// of the place (clang's relative lookup tables).
			place, skip := int64(s.Value), uint64(rel.Addend)
			if s.Kind == obj.SymSection || s.Name == "" {
				place, skip = place+rel.Addend, 0
			}
			if place < 0 || uint64(place) >= uint64(len(sec.Data)) {
				return expectation{}, false
			}
			rest := sec.Data[place:]
			if sec.Strings {
				if n := bytes.IndexByte(rest, 0); n >= 0 {
					return expectation{content: rest[:n+1], skip: skip}, true
				}
				return expectation{}, false
			}
			if e := sec.EntSize; e > 0 && uint64(place)%e == 0 && uint64(len(rest)) >= e {
				return expectation{content: rest[:e], skip: skip}, true
			}
			return expectation{}, false
		}
	}
	off := rel.Addend
	if s.Kind == obj.SymSection || s.Name == "" {
		if s.Section < 0 || s.Section >= len(m.defs[o]) {
			return expectation{}, false
		}
		place := int64(s.Value) + rel.Addend
		if place < 0 {
			return expectation{}, false
		}
		in := containing(m.defs[o][s.Section], uint64(place))
		if in == nil {
			return expectation{}, false
		}
		s, off = in, place-int64(in.Value)
	}
	out := outputSymbol(m.out, o, s)
	if out == nil {
		return expectation{}, false
	}
	return expectation{addr: out.addr + uint64(off)}, true
}

// anonSections lists the input sections of objs that hold data with
// contents but define no symbol and are not mergeable, in input order,
// with unique names.
func anonSections(objs []*obj.Object) []*anonSection {
	var list []*anonSection
	seen := map[string]int{}
	for _, o := range objs {
		if o == nil {
			continue
		}
		named := make([]bool, len(o.Sections))
		for _, s := range o.Symbols {
			if s != nil && s.Kind != obj.SymSection && s.Name != "" && s.Section >= 0 && s.Section < len(named) {
				named[s.Section] = true
			}
		}
		for si, sec := range o.Sections {
			if sec == nil || named[si] || !isAnonData(sec) {
				continue
			}
			name := fmt.Sprintf("%s:(%s)", filepath.Base(o.Name), sec.Name)
			seen[name]++
			if n := seen[name]; n > 1 {
				name = fmt.Sprintf("%s#%d", name, n)
			}
			a := &anonSection{name: name, o: o, sec: sec}
			for _, rel := range sec.Relocs {
				if rel.Offset+uint64(rel.Kind.Size()) <= uint64(len(sec.Data)) {
					a.fields = append(a.fields, rel)
				}
			}
			sort.SliceStable(a.fields, func(i, j int) bool { return a.fields[i].Offset < a.fields[j].Offset })
			prev, size := uint64(0), uint64(len(sec.Data))
			for _, f := range a.fields {
				if f.Offset > prev {
					a.gaps = append(a.gaps, [2]uint64{prev, f.Offset})
				}
				prev = max(prev, f.Offset+uint64(f.Kind.Size()))
			}
			if size > prev {
				a.gaps = append(a.gaps, [2]uint64{prev, size})
			}
			list = append(list, a)
		}
	}
	return list
}

// isAnonData reports whether sec, when no symbol is defined in it, is
// anonymous data that locateAnon looks for: data with contents that a
// linker copies whole (not mergeable, not .eh_frame, whose records
// linkers merge: Image.Frames).
func isAnonData(sec *obj.Section) bool {
	return !sec.Merge && !sec.EHFrame && len(sec.Data) > 0 && (sec.Kind == obj.ROData || sec.Kind == obj.Data)
}

// locateAnon finds each anonymous input section in the output and adds it
// as a pseudo-symbol (with its relocation sites), so that references to it
// are named and its contents compared.
func (r *reader) locateAnon(objs []*obj.Object) {
	anon := anonSections(objs)
	if len(anon) == 0 {
		return // linkcheck's code generator names every atom
	}
	m := r.newInputMap(objs)
	work := maxAnonWork
	var claimed []*Symbol
	for _, a := range anon {
		a.wants = make([]*expectation, len(a.fields))
		for i, f := range a.fields {
			if want, ok := m.target(a.o, f); ok {
				a.wants[i] = &want
			}
		}
		pos, sec, ok := r.findAnon(a, claimed, &work)
		if !ok {
			r.note("%s: %d bytes of anonymous data not found in the output", a.name, len(a.sec.Data))
			continue
		}
		s := &Symbol{Name: a.name, Kind: KindObject, Bind: BindLocal, Size: uint64(len(a.sec.Data)),
			Section: sec.name, Flags: sec.flags, Anon: true, addr: pos}
		r.syms = append(r.syms, s)
		s.sec = sec
		s.ext = s.Size
		r.starts[pos] = append(r.starts[pos], s)
		sort.SliceStable(r.starts[pos], func(i, j int) bool { return r.better(r.starts[pos][i], r.starts[pos][j]) })
		claimed = append(claimed, s)
		for _, f := range a.fields {
			if k := f.Kind; k == obj.Abs64 || k == obj.Abs32 || k == obj.Abs32S || k == obj.PCRel32 {
				if !r.sites.full() {
					r.addSite(a.o, f, pos+f.Offset)
				}
			}
		}
	}
	// Added only now: anonAt searches r.ranges, which must stay sorted.
	r.ranges = append(r.ranges, claimed...)
	r.sortRanges()
}

// findAnon returns the lowest address at which a's contents lie in a
// read-only (or, for writable input data, a writable) output section,
// outside every symbol and every section already located.
func (r *reader) findAnon(a *anonSection, claimed []*Symbol, work *int) (uint64, *section, bool) {
	data := a.sec.Data
	size := uint64(len(data))
	align := max(a.sec.Align, 1)
	want := "A"
	if a.sec.Kind == obj.Data {
		want = "AW"
	}
	// The longest run of bytes outside relocated fields anchors the search.
	anchorOff, anchorLen := uint64(0), uint64(0)
	for _, g := range a.gaps {
		if g[1]-g[0] > anchorLen {
			anchorOff, anchorLen = g[0], g[1]-g[0]
		}
	}
	verifiable := anchorLen > 0
	for _, w := range a.wants {
		verifiable = verifiable || w != nil
	}
	if !verifiable {
		return 0, nil, false // nothing to recognize it by
	}
	for _, sec := range r.secs {
		if sec.flags != want || sec.nobits || sec.size < size {
			continue
		}
		try := func(pos uint64) bool {
			*work -= int(size)
			return pos%align == 0 && r.anonAt(a, sec, pos, claimed)
		}
		if anchorLen >= 4 {
			needle := data[anchorOff : anchorOff+anchorLen]
			for from := uint64(0); from < sec.size && *work > 0; {
				i := bytes.Index(sec.data[from:], needle)
				if i < 0 {
					break
				}
				at := from + uint64(i)
				if at >= anchorOff && try(sec.addr+at-anchorOff) {
					return sec.addr + at - anchorOff, sec, true
				}
				from = at + 1
			}
			continue
		}
		first := (sec.addr + align - 1) &^ (align - 1)
		for pos := first; pos >= sec.addr && pos-sec.addr+size <= sec.size && *work > 0; pos += align {
			if try(pos) {
				return pos, sec, true
			}
		}
	}
	return 0, nil, false
}

// anonAt reports whether a's contents lie at pos in sec: the range is in
// no symbol and no located section, bytes outside relocated fields are
// equal, and each relocated field whose target can be told holds it.
func (r *reader) anonAt(a *anonSection, sec *section, pos uint64, claimed []*Symbol) bool {
	size := uint64(len(a.sec.Data))
	off := pos - sec.addr
	if off+size > sec.size || r.overlapsSymbol(pos, size) {
		return false
	}
	for _, s := range claimed {
		if s.addr < pos+size && pos < s.addr+s.Size {
			return false
		}
	}
	out := sec.data[off : off+size]
	for _, g := range a.gaps {
		if !bytes.Equal(out[g[0]:g[1]], a.sec.Data[g[0]:g[1]]) {
			return false
		}
	}
	for i, f := range a.fields {
		want := a.wants[i]
		switch f.Kind {
		case obj.Abs64, obj.Abs32, obj.Abs32S, obj.PCRel32, obj.Branch32:
		default:
			continue // GOT and image-relative fields are not told here
		}
		if want == nil {
			continue
		}
		t := fieldTarget(f.Kind, out[f.Offset:], pos+f.Offset)
		if want.content != nil {
			if !bytes.Equal(r.bytesAt(t-want.skip, uint64(len(want.content))), want.content) {
				return false
			}
		} else if t != want.addr {
			return false
		}
	}
	return true
}

// overlapsSymbol reports whether [pos, pos+size) overlaps the extent of a
// symbol (of the maxCandidates nearest that start before its end).
func (r *reader) overlapsSymbol(pos, size uint64) bool {
	i := sort.Search(len(r.ranges), func(i int) bool { return r.ranges[i].addr >= pos+size })
	for j := i - 1; j >= 0 && j >= i-maxCandidates; j-- {
		if s := r.ranges[j]; pos < s.addr+s.ext {
			return true
		}
	}
	return false
}
