package link

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/linkcheck/linkcheck/ref/cfi"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Names of the synthesized call frame sections.
const (
	EHFrameSection    = ".eh_frame"
	EHFrameHdrSection = ".eh_frame_hdr"
)

// EHFrame is the merged call frame information of a link: ld.lld 16's
// EhFrameSection and EhFrameHeader for a static executable.
//
// Every input .eh_frame section (obj.Section.EHFrame) is split into CIE
// and FDE records. A CIE is kept once per distinct contents and
// personality symbol (the target of a relocation in it), the first seen;
// an FDE is kept only when its first relocation (its initial location)
// refers to a defined symbol in a section the link keeps (not a discarded
// COMDAT copy, not absolute; an FDE without relocation is dropped, as
// ld.lld drops what gold -r leaves). The output holds, for each kept CIE
// in order of first appearance, the CIE and then its FDEs in input order,
// each record copied as it is with its CIE pointer rewritten, and a
// 4-byte zero terminator. Relocations of the kept records are applied
// where the records went; those of the dropped ones are not applied and
// their symbols are not referenced.
//
// With Options.EHFrameHdr the link also writes .eh_frame_hdr (version 1,
// eh_frame_ptr pcrel|sdata4, fde_count udata4, table datarel|sdata4): the
// initial location and address of every kept FDE relative to the header,
// sorted by location with duplicate locations dropped.
type EHFrame struct {
	// Section is the output .eh_frame, nil when no input has one; Hdr is
	// .eh_frame_hdr, nil unless Options.EHFrameHdr asked for it.
	Section, Hdr *Section
	// FDEs are the kept FDEs in output order.
	FDEs []EHFDE
	// cies are the kept CIEs in output order.
	cies []ehCIE
}

// ehCIE is a kept CIE: its offset in the output and where it comes from.
type ehCIE struct {
	off, in  uint64
	obj, sec int32
}

// EHFDE is a kept FDE: its offset in the output .eh_frame and its CIE's.
type EHFDE struct {
	Off, CIEOff uint64
	// where the FDE comes from (for messages)
	obj, sec int32
	in       uint64
}

// ehRecord is one record of an input .eh_frame during the merge.
type ehRecord struct {
	rec    cfi.Record
	live   bool
	outOff uint64
}

type cieKey struct {
	data        string
	personality int32 // the symbol's index in Layout.Symbols, -1 for none
}

type cieRecord struct {
	oi, si int32
	rec    *ehRecord
	fdes   []fdeRef
}

type fdeRef struct {
	oi, si int32
	rec    *ehRecord
}

// ehInput is an input .eh_frame section and its records.
type ehInput struct {
	oi, si int32
	recs   []ehRecord
}

// mergeEHFrames builds the merged .eh_frame from the input sections ins
// (object, section), adds it (and .eh_frame_hdr) at the end of
// l.Sections, points the inputs' placements at it and replaces each input
// section by a copy holding only the relocations of its kept records.
func (l *Layout) mergeEHFrames(p Platform, ins [][2]int32, opts Options) error {
	var inputs []*ehInput
	var cies []*cieRecord
	cieMap := map[cieKey]*cieRecord{}
	var errs []error
	align := uint64(1)
	for _, x := range ins {
		oi, si := x[0], x[1]
		o := l.Objects[oi]
		s := o.Sections[si]
		align = max(align, s.Align)
		recs, err := cfi.Split(s.Data)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s:(%s): %w", o.Name, s.Name, err))
			continue
		}
		in := &ehInput{oi: oi, si: si, recs: make([]ehRecord, len(recs))}
		inputs = append(inputs, in)
		byOff := make(map[uint64]*cieRecord)
		for i, r := range recs {
			in.recs[i].rec = r
		}
		// CIEs first, then FDEs, as ld.lld 16 (EhInputSection's cies
		// and fdes).
		for i := range in.recs {
			er := &in.recs[i]
			if !er.rec.CIE {
				continue
			}
			key := cieKey{data: string(s.Data[er.rec.Offset : er.rec.Offset+er.rec.Size]), personality: -1}
			if r, ok := firstReloc(s.Relocs, er.rec); ok {
				key.personality = l.SymIndex[oi][r.Sym]
			}
			c := cieMap[key]
			if c == nil {
				c = &cieRecord{oi: oi, si: si, rec: er}
				er.live = true
				cieMap[key] = c
				cies = append(cies, c)
			}
			byOff[er.rec.Offset] = c
		}
		for i := range in.recs {
			er := &in.recs[i]
			if er.rec.CIE {
				continue
			}
			var c *cieRecord
			if back := uint64(er.rec.ID); back <= er.rec.Offset+4 {
				c = byOff[er.rec.Offset+4-back]
			}
			if c == nil {
				errs = append(errs, fmt.Errorf("%s:(%s+0x%X): invalid CIE reference", o.Name, s.Name, er.rec.Offset))
				continue
			}
			if !l.fdeLive(oi, s, er.rec) {
				continue
			}
			er.live = true
			c.fdes = append(c.fdes, fdeRef{oi: oi, si: si, rec: er})
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// Layout: each CIE, then its FDEs; a zero terminator.
	var off uint64
	for _, c := range cies {
		c.rec.outOff = off
		off += c.rec.rec.Size
		for _, f := range c.fdes {
			f.rec.outOff = off
			off += f.rec.rec.Size
		}
	}
	off += 4
	data := make([]byte, off)
	eh := &l.EHFrame
	for _, c := range cies {
		eh.cies = append(eh.cies, ehCIE{off: c.rec.outOff, in: c.rec.rec.Offset, obj: c.oi, sec: c.si})
		cs := l.Objects[c.oi].Sections[c.si]
		copy(data[c.rec.outOff:], cs.Data[c.rec.rec.Offset:c.rec.rec.Offset+c.rec.rec.Size])
		for _, f := range c.fdes {
			fs := l.Objects[f.oi].Sections[f.si]
			copy(data[f.rec.outOff:], fs.Data[f.rec.rec.Offset:f.rec.rec.Offset+f.rec.rec.Size])
			binary.LittleEndian.PutUint32(data[f.rec.outOff+4:], uint32(f.rec.outOff+4-c.rec.outOff))
			eh.FDEs = append(eh.FDEs, EHFDE{Off: f.rec.outOff, CIEOff: c.rec.outOff, obj: f.oi, sec: f.si, in: f.rec.rec.Offset})
		}
	}
	if opts.EHFrameHdr {
		size := uint64(12 + 8*len(eh.FDEs))
		eh.Hdr = &Section{Name: EHFrameHdrSection, Kind: obj.ROData, Align: 4, Size: size,
			Chunks: []Chunk{{Obj: -1, Sec: -1, Size: size, Align: 4, Data: make([]byte, size)}}}
		l.Sections = append(l.Sections, eh.Hdr)
	}
	out := &Section{Name: EHFrameSection, Kind: obj.ROData, Align: align, Size: off,
		Chunks: []Chunk{{Obj: -1, Sec: -1, Size: off, Align: align, Data: data}}}
	eh.Section = out
	outIdx := int32(len(l.Sections))
	l.Sections = append(l.Sections, out)
	// Placements, and the inputs' relocations cut to the kept records.
	for _, in := range inputs {
		o := l.Objects[in.oi]
		s := o.Sections[in.si]
		pieces := make([]Piece, 0, len(in.recs))
		var relocs []obj.Reloc
		ri := 0 // the relocations and the records are both sorted by offset
		for i := range in.recs {
			er := &in.recs[i]
			// A dropped record's bytes are where ld.lld says they are
			// (their offset from the section's start): OutOff 0.
			pieces = append(pieces, Piece{InOff: er.rec.Offset, OutOff: er.outOff})
			for ri < len(s.Relocs) && s.Relocs[ri].Offset < er.rec.Offset {
				ri++
			}
			for ; ri < len(s.Relocs) && s.Relocs[ri].Offset-er.rec.Offset < er.rec.Size; ri++ {
				r := s.Relocs[ri]
				if er.live {
					if r.Kind.UsesGOT() || r.Kind == obj.GOTTPOff || r.Kind == obj.TLSGD || r.Kind == obj.TLSLD || r.Kind == obj.TPOff32 {
						errs = append(errs, fmt.Errorf("%s: relocation %s in .eh_frame is not supported", l.Where(in.oi, in.si, r.Offset), p.RelocName(r.Kind)))
						continue
					}
					if opts.Faults.Has(fault.LinkFDEPCBias) && !er.rec.CIE && r.Offset == er.rec.Offset+8 {
						r.Addend++
					}
					relocs = append(relocs, r)
				}
			}
		}
		pl := &l.Placements[in.oi][in.si]
		pl.Out, pl.Chunk, pl.Pieces = outIdx, 0, pieces
		c := *s
		c.Relocs = relocs
		l.setSection(in.oi, in.si, &c)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// setSection replaces section si of object oi in the layout by s, copying
// the object (and the layout's object list) first so that the caller's
// objects are not changed.
func (l *Layout) setSection(oi, si int32, s *obj.Section) {
	if !l.ownObjects {
		l.Objects = append([]*obj.Object(nil), l.Objects...)
		l.ownObjects = true
	}
	if l.ownObject == nil {
		l.ownObject = map[int32]bool{}
	}
	if !l.ownObject[oi] {
		c := *l.Objects[oi]
		c.Sections = append([]*obj.Section(nil), c.Sections...)
		l.Objects[oi] = &c
		l.ownObject[oi] = true
	}
	l.Objects[oi].Sections[si] = s
}

// firstReloc returns the first relocation (by offset) inside rec.
func firstReloc(rs []obj.Reloc, rec cfi.Record) (obj.Reloc, bool) {
	i := sort.Search(len(rs), func(i int) bool { return rs[i].Offset >= rec.Offset })
	if i < len(rs) && rs[i].Offset-rec.Offset < rec.Size {
		return rs[i], true
	}
	return obj.Reloc{}, false
}

// fdeLive reports whether the FDE rec of input section s of object oi
// describes code the link keeps: its first relocation refers to a symbol
// defined in a kept section.
func (l *Layout) fdeLive(oi int32, s *obj.Section, rec cfi.Record) bool {
	r, ok := firstReloc(s.Relocs, rec)
	if !ok {
		return false
	}
	sym := &l.Symbols[l.SymIndex[oi][r.Sym]]
	if !sym.Defined() || sym.Sec < 0 {
		return false
	}
	return !l.discarded[l.Objects[sym.Obj].Sections[sym.Sec]]
}

// pieceOffset maps offset off of an .eh_frame input section to its offset
// in the merged chunk.
func pieceOffset(ps []Piece, off uint64) uint64 {
	i := sort.Search(len(ps), func(i int) bool { return ps[i].InOff > off }) - 1
	if i < 0 {
		return off
	}
	return ps[i].OutOff + (off - ps[i].InOff)
}

// writeEHFrameHdr fills in .eh_frame_hdr from the relocated .eh_frame in
// img, as ld.lld's EhFrameHeader::write does.
func (l *Layout) writeEHFrameHdr(img []byte, opts Options) error {
	eh := &l.EHFrame
	if eh.Hdr == nil {
		return nil
	}
	le := binary.LittleEndian
	sec, hdr := eh.Section, eh.Hdr
	frames := img[sec.Offset : sec.Offset+sec.Size]
	type entry struct{ pc, fde uint32 }
	entries := make([]entry, 0, len(eh.FDEs))
	// Every kept CIE's encoding, FDEs or not, as ld.lld reads them.
	encs := map[uint64]uint8{}
	for _, c := range eh.cies {
		n := uint64(le.Uint32(frames[c.off:])) + 4
		e, err := cfi.FDEEncoding(frames[c.off:min(c.off+n, uint64(len(frames)))])
		if err != nil {
			return fmt.Errorf("corrupted .eh_frame: %w\n>>> defined in %s", err, l.Where(c.obj, c.sec, c.in))
		}
		encs[c.off] = e
	}
	for _, f := range eh.FDEs {
		enc := encs[f.CIEOff]
		v, _, err := cfi.ReadEncoded(frames[f.Off+8:], enc&0x0f)
		if err != nil {
			return fmt.Errorf("%s: unknown FDE size encoding", l.Where(f.obj, f.sec, f.in))
		}
		pc := v
		switch enc & 0x70 {
		case cfi.PEAbsPtr:
		case cfi.PEPCRel:
			pc = v + sec.Addr + f.Off + 8
		default:
			return fmt.Errorf("%s: unknown FDE size relative encoding", l.Where(f.obj, f.sec, f.in))
		}
		rel := int64(pc - hdr.Addr)
		if rel < math.MinInt32 || rel > math.MaxInt32 {
			return fmt.Errorf("%s: PC offset is too large: 0x%x", l.Where(f.obj, f.sec, f.in), pc-hdr.Addr)
		}
		entries = append(entries, entry{uint32(pc - hdr.Addr), uint32(sec.Addr + f.Off - hdr.Addr)})
	}
	if !opts.Faults.Has(fault.LinkEHFrameHdrUnsorted) {
		slices.SortStableFunc(entries, func(a, b entry) int {
			switch {
			case a.pc < b.pc:
				return -1
			case a.pc > b.pc:
				return 1
			}
			return 0
		})
		entries = slices.CompactFunc(entries, func(a, b entry) bool { return a.pc == b.pc })
	}
	buf := img[hdr.Offset : hdr.Offset+hdr.Size]
	buf[0] = 1
	buf[1] = cfi.PEPCRel | cfi.PESData4
	buf[2] = cfi.PEUData4
	buf[3] = cfi.PEDataRel | cfi.PESData4
	le.PutUint32(buf[4:], uint32(sec.Addr-hdr.Addr-4))
	le.PutUint32(buf[8:], uint32(len(entries)))
	for i, e := range entries {
		le.PutUint32(buf[12+8*i:], e.pc)
		le.PutUint32(buf[16+8*i:], e.fde)
	}
	return nil
}
