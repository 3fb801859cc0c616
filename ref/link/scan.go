package link

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// maxUndefReferences is how many references of an undefined symbol an
// error lists before summarizing the rest, as ld.lld does.
const maxUndefReferences = 3

// undefRef is a reference to an undefined symbol.
type undefRef struct {
	obj, sec int32
	off      uint64
}

// scan walks every relocation once, before layout: it marks referenced
// symbols, collects references to undefined symbols, decides which GOT
// loads are relaxed and gives a GOT slot, in order of first reference (or
// by symbol, SymbolOrderGOT), to every symbol that a remaining GOT
// relocation needs. Undefined symbols
// are reported as ld.lld does:
//
//	undefined symbol: g
//	>>> referenced by a.o:(.text.main+0x12)
func (l *Layout) scan(p Platform, opts Options) error {
	ar := p.Arch()
	var undef map[int32][]undefRef
	var undefOrder []int32
	var errs []error
	lastFirst := scansLastFirst(p)
	for oi, o := range l.Objects {
		idx := l.SymIndex[oi]
		for si, s := range o.Sections {
			for k := 0; k < len(s.Relocs); k++ {
				ri := k
				if lastFirst {
					ri = len(s.Relocs) - 1 - k
				}
				r := &s.Relocs[ri]
				if !lastFirst && (r.Kind == obj.TLSGD || r.Kind == obj.TLSLD) {
					// The call of __tls_get_addr that follows is part
					// of the sequence, relaxed away with it (ld.lld
					// skips its relocation).
					k++
				}
				id := idx[r.Sym]
				sym := &l.Symbols[id]
				sym.Referenced = true
				if sym.Kind == obj.SymIFunc {
					if err := l.ipltEntry(p, oi, si, r, id); err != nil {
						errs = append(errs, err)
						continue
					}
				}
				if !sym.Defined() && sym.strongRef {
					if undef == nil {
						undef = make(map[int32][]undefRef)
					}
					if _, seen := undef[id]; !seen {
						undefOrder = append(undefOrder, id)
					}
					undef[id] = append(undef[id], undefRef{int32(oi), int32(si), r.Offset})
					continue
				}
				switch r.Kind {
				case obj.GOTLoad32, obj.GOTPCRel32:
					if l.relaxation(ar, opts, sym, r, s.Data) != arch.RelaxNone {
						continue
					}
				default:
					if !p.Supports(r.Kind) {
						errs = append(errs, fmt.Errorf("%s: relocation %s is not supported in a %s executable", l.Where(int32(oi), int32(si), r.Offset), p.RelocName(r.Kind), p.Format()))
					}
					continue
				}
				if sym.GOTSlot < 0 {
					sym.GOTSlot = int32(len(l.GOT.Slots))
					l.GOT.Slots = append(l.GOT.Slots, id)
				}
			}
		}
	}
	for _, id := range undefOrder {
		refs := undef[id]
		var b strings.Builder
		fmt.Fprintf(&b, "undefined symbol: %s", l.Symbols[id].Name)
		for i, r := range refs {
			if i == maxUndefReferences {
				fmt.Fprintf(&b, "\n>>> referenced %d more times", len(refs)-i)
				break
			}
			fmt.Fprintf(&b, "\n>>> referenced by %s", l.Where(r.obj, r.sec, r.off))
		}
		errs = append(errs, errors.New(b.String()))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if name := l.entryName(opts); name != "" {
		id := l.Lookup(name)
		switch {
		case id >= 0 && l.Symbols[id].Defined():
			l.EntrySym = id
		case missingEntryWarns(p):
			// ld.lld: a warning, and the entry address is 0.
			l.Warnings = append(l.Warnings, fmt.Sprintf("cannot find entry symbol %s; not setting start address", name))
		default:
			return fmt.Errorf("cannot find entry symbol %s", name)
		}
	}
	// Mark symbols in merged sections whose address depends on the addend.
	for i := range l.Symbols {
		s := &l.Symbols[i]
		if s.Kind == obj.SymSection && s.Obj >= 0 && s.Sec >= 0 && l.Placements[s.Obj][s.Sec].Pieces != nil {
			s.mergeSection = true
		}
	}
	if gotInSymbolOrder(p) {
		l.orderGOTBySymbol()
	}
	if err := l.addIPLT(p); err != nil {
		return err
	}
	if len(l.GOT.Slots) > 0 {
		l.Sections = append(l.Sections, &Section{
			Name: p.GOTSectionName(), Kind: obj.Data, GOT: true, Align: 8,
			Size:   uint64(len(l.GOT.Slots)) * ar.PtrSize(),
			Chunks: []Chunk{{Obj: -1, Sec: -1, Size: uint64(len(l.GOT.Slots)) * ar.PtrSize(), Align: 8}},
		})
	}
	return nil
}

func (l *Layout) entryName(opts Options) string {
	if opts.Entry != "" {
		return opts.Entry
	}
	return DefaultEntry
}

// orderGOTBySymbol renumbers the GOT slots in ld.lld's order (see
// SymbolOrderGOT): globals by symbol id (the order of first appearance),
// then locals by symbol id (objects in input order).
func (l *Layout) orderGOTBySymbol() {
	slots := l.GOT.Slots
	local := func(id int32) bool { return l.Symbols[id].Bind == obj.Local }
	slices.SortFunc(slots, func(a, b int32) int {
		if la, lb := local(a), local(b); la != lb {
			if lb {
				return -1
			}
			return 1
		}
		return cmp.Compare(a, b)
	})
	for i, id := range slots {
		l.Symbols[id].GOTSlot = int32(i)
	}
}
