package canon

import (
	"cmp"
	"encoding/binary"
	"slices"
	"sort"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// Pointer sites: the output addresses of relocated fields, from the input
// objects' relocations (here) or from the executable's own records (the
// loader's ownSites).

// objectSites maps every relocation of the input objects to the output:
// the input symbol containing the relocated field is found by offset, its
// output copy by name, and the field's output address is the output
// symbol's address plus the same offset.
func (r *reader) objectSites(objs []*obj.Object) {
	byName := make(map[string][]*Symbol, len(r.syms))
	n := 0
	for _, o := range objs {
		if o != nil {
			for _, sec := range o.Sections {
				if sec != nil {
					n += len(sec.Relocs)
				}
			}
		}
	}
	r.sites.grow(min(n, maxSites))
	for _, s := range r.syms {
		if s.sec != nil {
			byName[s.Name] = append(byName[s.Name], s)
		}
	}
	for _, o := range objs {
		if o == nil {
			continue
		}
		// The symbols defined in each section, in symbol table order.
		bySec := make([][]*obj.Symbol, len(o.Sections))
		for _, s := range o.Symbols {
			if s != nil && s.Section >= 0 && s.Section < len(bySec) && s.Kind != obj.SymSection && s.Name != "" {
				bySec[s.Section] = append(bySec[s.Section], s)
			}
		}
		for si, sec := range o.Sections {
			if sec == nil || len(sec.Relocs) == 0 || sec.EHFrame {
				// .eh_frame's fields are read as FDEs (frames.go).
				continue
			}
			defs := bySec[si]
			if len(defs) == 0 && isAnonData(sec) {
				continue // located by its contents (locateAnon)
			}
			if len(defs) > 1 {
				sort.SliceStable(defs, func(i, j int) bool { return defs[i].Value < defs[j].Value })
			}
			// The relocations of one input symbol follow one another:
			// its output symbol is looked up once for them.
			var lastIn *obj.Symbol
			var lastOut *Symbol
			for ri := 0; ri < len(sec.Relocs); ri++ {
				rel := sec.Relocs[ri]
				if rel.Kind == obj.TLSGD || rel.Kind == obj.TLSLD {
					// The __tls_get_addr call's relocation that
					// follows goes with the sequence, which a static
					// link rewrites (siteKind).
					if ri+1 < len(sec.Relocs) && sec.Relocs[ri+1].Offset > rel.Offset && sec.Relocs[ri+1].Offset-rel.Offset <= 8 {
						ri++
					}
				}
				in := containing(defs, rel.Offset)
				if in == nil {
					r.note("%s: section %s: reloc at %#x: no symbol contains it", o.Name, sec.Name, rel.Offset)
					continue
				}
				out := lastOut
				if in != lastIn {
					out = outputSymbol(byName, o, in)
					lastIn, lastOut = in, out
				}
				if out == nil {
					r.note("%s: section %s: reloc at %#x: symbol %s has %d definitions in the output", o.Name, sec.Name, rel.Offset, in.Name, len(byName[in.Name]))
					continue
				}
				off := rel.Offset - in.Value
				if out.ext < off+uint64(rel.Kind.Size()) {
					r.note("%s: section %s: reloc at %#x: %s+%#x is outside %s's output extent", o.Name, sec.Name, rel.Offset, in.Name, off, out.Name)
					continue
				}
				if !r.sites.full() {
					r.addSite(o, rel, out.addr+off)
				}
			}
		}
	}
}

// addSite records that the field at output address at is relocation rel
// of o, with its addend when rel names a symbol.
func (r *reader) addSite(o *obj.Object, rel obj.Reloc, at uint64) {
	kind, ok := siteKind(rel.Kind)
	if !ok {
		return
	}
	if rel.Kind == obj.TLSGD {
		at += 8 // relaxed to local-exec: lea x@tpoff(%rax) ends 8 bytes on
	}
	s := site{addr: at, kind: kind}
	if kind != obj.TPOff32 && kind != obj.DTPOff64 && rel.Sym >= 0 && rel.Sym < len(o.Symbols) {
		// A TP offset is named by the TLS block, not by an addend.
		if sym := o.Symbols[rel.Sym]; sym != nil && sym.Kind != obj.SymSection && sym.Name != "" {
			s.addend, s.hasAddend = rel.Addend, true
		}
	}
	r.sites.add(s)
}

// siteSet collects pointer sites as they are found, at most maxSites
// addresses. A site added at an address already held replaces its kind,
// and its addend when it has one (the earlier addend stays otherwise).
// They are appended to a list, sorted and merged once at the end (list);
// only when the list reaches maxSites entries, duplicates included, does
// the set switch to a map, which counts addresses exactly as the bound
// requires.
type siteSet struct {
	recs []site
	m    map[uint64]site // nil until recs reached maxSites
}

// grow makes room for n more sites.
func (s *siteSet) grow(n int) {
	if s.m == nil {
		s.recs = slices.Grow(s.recs, n)
	}
}

// full reports whether the set holds maxSites addresses.
func (s *siteSet) full() bool {
	if s.m == nil && len(s.recs) >= maxSites {
		s.m = make(map[uint64]site, len(s.recs))
		for _, x := range s.recs {
			s.m[x.addr] = merge(s.m[x.addr], x)
		}
		s.recs = nil
	}
	return s.m != nil && len(s.m) >= maxSites
}

// merge is site x with y added at its address.
func merge(x, y site) site {
	if !y.hasAddend {
		y.addend, y.hasAddend = x.addend, x.hasAddend
	}
	return y
}

func (s *siteSet) add(x site) {
	if s.m != nil {
		s.m[x.addr] = merge(s.m[x.addr], x)
		return
	}
	s.recs = append(s.recs, x)
}

// list returns the sites sorted by address, one per address.
func (s *siteSet) list() []site {
	var l []site
	if s.m != nil {
		l = make([]site, 0, len(s.m))
		for _, x := range s.m {
			l = append(l, x)
		}
		slices.SortFunc(l, func(x, y site) int { return cmp.Compare(x.addr, y.addr) })
		return l
	}
	// Stable: the sites of one address stay in the order they were added.
	l = s.recs
	s.recs = nil
	if !slices.IsSortedFunc(l, func(x, y site) int { return cmp.Compare(x.addr, y.addr) }) {
		slices.SortStableFunc(l, func(x, y site) int { return cmp.Compare(x.addr, y.addr) })
	}
	out := l[:0]
	for _, x := range l {
		if n := len(out); n > 0 && out[n-1].addr == x.addr {
			out[n-1] = merge(out[n-1], x)
			continue
		}
		out = append(out, x)
	}
	return slices.Clip(out)
}

// addendAt returns the addend of the site at addr, when it has one.
func (r *reader) addendAt(addr uint64) (int64, bool) {
	l := r.siteList
	i, ok := slices.BinarySearchFunc(l, addr, func(x site, a uint64) int { return cmp.Compare(x.addr, a) })
	if !ok || !l[i].hasAddend {
		return 0, false
	}
	return l[i].addend, true
}

// containing returns the symbol of defs (sorted by Value) whose extent holds
// off, else the nearest one at or before off.
// siteKind returns the kind of field the output holds where an input
// relocation of kind k was, and whether the field is one canon names.
// Every TLS kind but TLSLD (whose code a static link rewrites to hold no
// value) leaves a TP offset: TPOff32 in 4 bytes, DTPOff64 in 8 (the
// initial-exec and general-dynamic forms are relaxed to local-exec). The
// other kinds without a pointer's meaning (sizes, 1-, 2- and 8-byte
// PC-relative fields, GOT-base offsets) are compared as bytes.
func siteKind(k obj.RelocKind) (obj.RelocKind, bool) {
	switch k {
	case obj.Abs64, obj.Abs32, obj.Abs32S, obj.PCRel32, obj.Branch32, obj.GOTPCRel32, obj.GOTLoad32, obj.ImageRel32:
		return k, true
	case obj.TPOff32, obj.GOTTPOff, obj.TLSGD, obj.DTPOff32:
		return obj.TPOff32, true
	case obj.DTPOff64:
		return obj.DTPOff64, true
	}
	return 0, false
}

func containing(defs []*obj.Symbol, off uint64) *obj.Symbol {
	i := sort.Search(len(defs), func(i int) bool { return defs[i].Value > off })
	var nearest *obj.Symbol
	for j := i - 1; j >= 0; j-- {
		d := defs[j]
		if off-d.Value < d.Size {
			return d
		}
		if nearest == nil {
			nearest = d
		}
	}
	if nearest != nil && nearest.Size == 0 {
		return nearest
	}
	return nil
}

// outputSymbol returns the output symbol that is input symbol s of o: the
// one symbol of its name, or for a local whose name several files define,
// the one qualified by o's source file (name@file, see readSymbols).
func outputSymbol(byName map[string][]*Symbol, o *obj.Object, s *obj.Symbol) *Symbol {
	if outs := byName[s.Name]; len(outs) == 1 {
		return outs[0]
	}
	if s.Bind == obj.Local && o.File != "" {
		if outs := byName[s.Name+"@"+o.File]; len(outs) == 1 {
			return outs[0]
		}
	}
	return nil
}

// fieldTarget is the address (S + A) that a relocated field of kind, at
// address at, holds: an absolute field's value, or value + P for a
// PC-relative one (every kind that is not absolute).
func fieldTarget(kind obj.RelocKind, field []byte, at uint64) uint64 {
	switch kind {
	case obj.Abs64:
		return binary.LittleEndian.Uint64(field)
	case obj.Abs32:
		return uint64(binary.LittleEndian.Uint32(field))
	case obj.Abs32S:
		return uint64(int64(int32(binary.LittleEndian.Uint32(field))))
	}
	return at + uint64(int64(int32(binary.LittleEndian.Uint32(field))))
}
