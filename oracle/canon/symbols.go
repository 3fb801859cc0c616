package canon

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// readSymbols makes the canonical symbols of f's symbols: synthetic when no
// input object defines them (without objects, when the format reserves
// the name), duplicated names qualified, extents computed. A symbol the
// file gives no size (Mach-O's have none) takes the size of its
// definition in the input objects when exactly one object symbol of that
// name has one: its extent is then what its input defines, not what lies
// up to the next symbol (an incremental linker's spare room, a
// trampoline), as ELF's st_size says.
func (r *reader) readSymbols(f *file, objs []*obj.Object) {
	var defined map[string]bool
	var sizes map[string]uint64 // a name's input size; 0 when ambiguous
	if len(objs) > 0 {
		sizes = map[string]uint64{}
		n := 0
		for _, o := range objs {
			if o != nil {
				n += len(o.Symbols)
			}
		}
		defined = make(map[string]bool, n)
		for _, o := range objs {
			if o == nil {
				continue
			}
			for _, s := range o.Symbols {
				if s != nil && s.Defined() && s.Kind != obj.SymSection {
					if _, dup := sizes[s.Name]; dup || s.Size == 0 {
						sizes[s.Name] = 0
					} else {
						sizes[s.Name] = s.Size
					}
					defined[s.Name] = true
				}
			}
		}
	}
	if f.mergedBSS && len(objs) > 0 {
		r.inputBSS = inputBSS(objs)
	}
	type raw struct {
		sym  *Symbol
		file string
	}
	raws := make([]raw, 0, len(f.symbols))
	slab := make([]Symbol, len(f.symbols)) // one allocation for all
	for i, fs := range f.symbols {
		s := &slab[i]
		*s = Symbol{Name: fs.name, Kind: fs.kind, Bind: fs.bind, Size: fs.size, addr: fs.value}
		if s.Size == 0 && fs.sec != nil {
			s.Size = sizes[fs.name]
		}
		if defined != nil {
			s.Synthetic = !defined[s.Name]
		} else {
			s.Synthetic = fs.reserved
		}
		if fs.sec == nil {
			s.Section = "*ABS*"
		} else {
			s.Section, s.Flags = fs.sec.name, fs.sec.flags
			s.sec = fs.sec
		}
		raws = append(raws, raw{s, fs.file})
	}
	// Qualify duplicated names: first by the source file of a local, then
	// by order in the symbol table.
	count := make(map[string]int, len(raws))
	for _, x := range raws {
		count[x.sym.Name]++
	}
	for i := range raws {
		if count[raws[i].sym.Name] > 1 && raws[i].file != "" && raws[i].sym.Bind == BindLocal {
			raws[i].sym.Name += "@" + raws[i].file
		}
	}
	seen := make(map[string]int, len(raws))
	for _, x := range raws {
		seen[x.sym.Name]++
		if n := seen[x.sym.Name]; n > 1 {
			r.note("duplicate symbol name %s: qualified as %s#%d by symbol table order", x.sym.Name, x.sym.Name, n)
			x.sym.Name = fmt.Sprintf("%s#%d", x.sym.Name, n)
		}
		r.syms = append(r.syms, x.sym)
	}
	r.computeExtents()
}

// inputBSS returns the names that the objects define exactly once, in a
// BSS section.
func inputBSS(objs []*obj.Object) map[string]bool {
	count := map[string]int{}
	bss := map[string]bool{}
	for _, o := range objs {
		if o == nil {
			continue
		}
		for _, s := range o.Symbols {
			if s == nil || !s.Defined() || s.Kind == obj.SymSection {
				continue
			}
			count[s.Name]++
			if s.Section >= 0 && s.Section < len(o.Sections) && o.Sections[s.Section] != nil && o.Sections[s.Section].Kind == obj.BSS {
				bss[s.Name] = true
			}
		}
	}
	for n := range bss {
		if count[n] > 1 {
			delete(bss, n)
		}
	}
	return bss
}

// computeExtents sets each symbol's extent: its size clamped to its
// section, or for a zero-sized non-synthetic symbol, up to the next
// non-synthetic symbol in its section or the section's end.
func (r *reader) computeExtents() {
	if len(r.starts) == 0 {
		r.starts = make(map[uint64][]*Symbol, len(r.syms))
	}
	bySec := map[*section][]uint64{}
	for _, s := range r.syms {
		if sec := s.sec; sec != nil && !s.Synthetic {
			bySec[sec] = append(bySec[sec], s.addr)
		}
	}
	for _, a := range bySec {
		slices.Sort(a)
	}
	for _, s := range r.syms {
		sec := s.sec
		if sec == nil || !sec.contains(s.addr) {
			if sec != nil && s.Size > 0 {
				r.note("symbol %s lies outside its section %s", s.Name, sec.name)
			}
			continue
		}
		room := sec.size - (s.addr - sec.addr)
		ext := s.Size
		if ext > room {
			r.note("symbol %s: size %#x runs past the end of section %s; clamped to %#x", s.Name, s.Size, sec.name, room)
			ext = room
		}
		if ext == 0 && !s.Synthetic {
			starts := bySec[sec]
			i := sort.Search(len(starts), func(i int) bool { return starts[i] > s.addr })
			ext = room
			if i < len(starts) {
				ext = starts[i] - s.addr
			}
			s.Size, s.SizeInferred = ext, ext > 0
		}
		r.addStart(s)
		if ext == 0 {
			continue
		}
		s.ext = ext
		if !s.Synthetic {
			r.ranges = append(r.ranges, s)
		}
	}
	r.sortRanges()
	for a, list := range r.starts {
		if len(list) > 1 {
			sort.SliceStable(list, func(i, j int) bool { return r.better(list[i], list[j]) })
			r.starts[a] = list
		}
	}
}

// addStart files s under its address in r.starts. Most addresses start
// one symbol: their lists are cut from one array (capacity 1, so that a
// second symbol at the address moves the list out of it).
func (r *reader) addStart(s *Symbol) {
	list, ok := r.starts[s.addr]
	if ok {
		r.starts[s.addr] = append(list, s)
		return
	}
	if len(r.startSlab) == 0 {
		r.startSlab = make([]*Symbol, max(len(r.syms), 16))
	}
	r.startSlab[0] = s
	r.starts[s.addr] = r.startSlab[:1:1]
	r.startSlab = r.startSlab[1:]
}

// sortRanges sorts r.ranges by address (stably) and computes rangeEnd.
func (r *reader) sortRanges() {
	slices.SortStableFunc(r.ranges, func(x, y *Symbol) int { return cmp.Compare(x.addr, y.addr) })
	r.rangeEnd = slices.Grow(r.rangeEnd[:0], len(r.ranges))
	end := uint64(0)
	for _, s := range r.ranges {
		e := s.addr + s.ext
		if e < s.addr {
			e = math.MaxUint64 // past the address space: conservative
		}
		end = max(end, e)
		r.rangeEnd = append(r.rangeEnd, end)
	}
}

// better orders symbols at the same address: input before synthetic, sized
// before empty, typed before untyped, global before local, then by name.
func (r *reader) better(a, b *Symbol) bool {
	if a.Synthetic != b.Synthetic {
		return !a.Synthetic
	}
	if (a.ext > 0) != (b.ext > 0) {
		return a.ext > 0
	}
	if (a.Kind == KindNone) != (b.Kind == KindNone) {
		return a.Kind != KindNone
	}
	if (a.Bind == BindLocal) != (b.Bind == BindLocal) {
		return a.Bind != BindLocal
	}
	return a.Name < b.Name
}

// symbolAt returns the symbol that best names addr and the offset of addr
// in it: a symbol starting there, else the smallest symbol containing it.
func (r *reader) symbolAt(addr uint64) (*Symbol, uint64, bool) {
	if list := r.starts[addr]; len(list) > 0 {
		return list[0], 0, true
	}
	i := sort.Search(len(r.ranges), func(i int) bool { return r.ranges[i].addr > addr })
	var best *Symbol
	for j := i - 1; j >= 0 && j >= i-maxCandidates; j-- {
		if j < len(r.rangeEnd) && r.rangeEnd[j] <= addr {
			break // no symbol up to j reaches addr
		}
		s := r.ranges[j]
		if addr-s.addr < s.ext && (best == nil || s.ext < best.ext) {
			best = s
		}
	}
	if best == nil {
		return nil, 0, false
	}
	return best, addr - best.addr, true
}

// symbolize writes addr as "sym", "sym+0x8", or "?0x401000" when nothing
// names it (a layout-dependent value, noted).
func (r *reader) symbolize(addr uint64) string {
	if name, off, ok := r.nameAt(addr); ok {
		return withOffset(name, off)
	}
	r.note("address %#x is in no symbol", addr)
	return fmt.Sprintf("?%#x", addr)
}

// symRef is symbolize for a decoder: the name as a ref, noted in f.
func (r *reader) symRef(addr uint64, f *Func) ref {
	if name, off, ok := r.nameAt(addr); ok {
		return ref{kind: refSym, name: name, off: off}
	}
	f.note("address %#x is in no symbol", addr)
	return ref{kind: refUnknown, off: int64(addr)}
}

// nameAt names addr independently of layout: the symbol that holds it and
// the offset in it, else the merged string or constant it lies in (by the
// input objects, or without them by a string section of the output).
// Names built from bytes are cached.
func (r *reader) nameAt(addr uint64) (string, int64, bool) {
	if s, off, ok := r.symbolAt(addr); ok {
		return s.Name, int64(off), true
	}
	r.mu.Lock()
	c, ok := r.names[addr]
	r.mu.Unlock()
	if ok {
		return c.name, c.off, c.ok
	}
	if r.input != nil {
		c.name, c.off, c.ok = r.mergedName(addr)
	} else if str, ok := r.stringAt(addr); ok {
		c = cachedName{name: "str" + strconv.Quote(str), ok: true}
	}
	r.mu.Lock()
	if r.names == nil {
		r.names = map[uint64]cachedName{}
	}
	if len(r.names) < maxCachedNames {
		r.names[addr] = c
	}
	r.mu.Unlock()
	return c.name, c.off, c.ok
}

// maxCachedNames bounds the cache of names of addresses in no symbol.
const maxCachedNames = 1 << 16

// symbolizeField writes the target of the relocated field at site: as
// its symbol plus the input relocation's addend when the relocation names
// a symbol (`&outv+0x400`, one past an array, stays with the array), else
// as whatever holds the target.
func (r *reader) symbolizeField(site, target uint64) string {
	if addend, ok := r.addendAt(site); ok {
		if name, off, ok := r.nameAt(target - uint64(addend)); ok {
			return withOffset(name, off+addend)
		}
	}
	return r.symbolize(target)
}

// fieldRef is symbolizeField for a decoder.
func (r *reader) fieldRef(site, target uint64, f *Func) ref {
	if addend, ok := r.addendAt(site); ok {
		if name, off, ok := r.nameAt(target - uint64(addend)); ok {
			return ref{kind: refSym, name: name, off: off + addend}
		}
	}
	return r.symRef(target, f)
}

// withOffset writes name+0x10, name-0x4 or name.
func withOffset(name string, off int64) string {
	switch {
	case off > 0:
		return fmt.Sprintf("%s+%#x", name, off)
	case off < 0:
		return fmt.Sprintf("%s-%#x", name, -off)
	}
	return name
}

// maxString bounds how much of a string literal a canonical operand shows.
const maxString = 256

// stringAt returns the NUL-terminated string at addr when addr lies in a
// string section (ELF SHF_STRINGS): string literals carry no symbol, and
// linkers order merged strings differently, so they are named by their
// contents. It is used without input objects; with them, mergedName
// decides by what the inputs hold, not by the output's flags (ld.lld
// marks a .rodata that mixes strings and jump tables SHF_STRINGS).
func (r *reader) stringAt(addr uint64) (string, bool) {
	for _, sec := range r.secs {
		if !sec.strings || sec.nobits || !sec.contains(addr) {
			continue
		}
		rest := sec.data[addr-sec.addr:]
		n := bytes.IndexByte(rest[:min(len(rest), maxString+1)], 0)
		if n < 0 {
			return "", false
		}
		return string(rest[:n]), true
	}
	return "", false
}
