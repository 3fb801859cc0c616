package link

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// maxRelocErrors bounds the number of relocation errors reported at once.
const maxRelocErrors = 20

// contents returns the loaded part of the image: every chunk's bytes at its
// file offset, the gaps inside code sections filled with int3 (0xcc) as
// ld.lld fills them, other gaps zero.
func (l *Layout) contents() []byte {
	// Room for what formats append (symbol table, strings, headers).
	extra := uint64(len(l.Symbols))*40 + uint64(len(l.Sections))*64 + 4096
	img := make([]byte, l.FileSize, l.FileSize+extra)
	for _, s := range l.Sections {
		if s.Kind == obj.BSS || s.GOT {
			continue
		}
		if s.Kind == obj.Text {
			fill := img[s.Offset : s.Offset+s.Size]
			for i := range fill {
				fill[i] = 0xcc
			}
		}
		for ci := range s.Chunks {
			c := &s.Chunks[ci]
			var d []byte
			if c.Obj >= 0 {
				d = l.Objects[c.Obj].Sections[c.Sec].Data
			} else {
				d = c.Data
			}
			copy(img[s.Offset+c.Off:], d)
		}
	}
	return img
}

// relocate applies every relocation into img and fills the GOT. The
// arithmetic is that of package obj (ELF x86_64: S + A - P); 32-bit fields
// are checked for overflow, and an overflow is reported as ld.lld reports
// it:
//
//	a.o:(.text+0x3): relocation R_X86_64_32 out of range: 4294967296 is not in [0, 4294967295]; references x
//	>>> defined in b.o
func (l *Layout) relocate(p Platform, opts Options, img []byte) error {
	le := binary.LittleEndian
	syms := l.Symbols
	var gotAddr uint64
	if l.GOT.Section >= 0 {
		g := l.Sections[l.GOT.Section]
		gotAddr = g.Addr
		for i, id := range l.GOT.Slots {
			if id >= 0 {
				le.PutUint64(img[g.Offset+uint64(i)*8:], syms[id].Addr)
			}
		}
	}
	relax := opts.RelaxGOT == RelaxLikeLLD
	var errs []error
	for oi, o := range l.Objects {
		idx := l.SymIndex[oi]
		pls := l.Placements[oi]
		for si, s := range o.Sections {
			if len(s.Relocs) == 0 {
				continue
			}
			pl := &pls[si]
			out := l.Sections[pl.Out]
			base := out.Offset + out.Chunks[pl.Chunk].Off
			sec := img[base : base+s.Size]
			addr := pl.Addr
			for ri := range s.Relocs {
				r := &s.Relocs[ri]
				sym := &syms[idx[r.Sym]]
				S := sym.Addr
				A := uint64(r.Addend)
				if sym.mergeSection {
					S = l.SectionAddr(sym.Obj, sym.Sec, sym.Value+A) - A
				}
				P := addr + r.Offset
				loc := sec[r.Offset:]
				var v uint64
				switch r.Kind {
				case obj.Abs64:
					le.PutUint64(loc, S+A)
					continue
				case obj.Abs32:
					v = S + A
					if v > math.MaxUint32 {
						errs = append(errs, l.rangeError(p, int32(oi), int32(si), r, sym, int64(v), 0, math.MaxUint32))
						continue
					}
					le.PutUint32(loc, uint32(v))
					continue
				case obj.Abs32S:
					v = S + A
				case obj.PCRel32, obj.Branch32:
					v = S + A - P
				case obj.GOTPCRel32:
					v = gotAddr + uint64(sym.GOTSlot)*8 + A - P
				case obj.GOTLoad32:
					how := relaxNone
					if relax {
						how = relaxable(sym, r, s.Data)
					}
					if how == relaxNone {
						v = gotAddr + uint64(sym.GOTSlot)*8 + A - P
						break
					}
					v = S + A - P
					if int64(v) != int64(int32(v)) {
						errs = append(errs, l.rangeError(p, int32(oi), int32(si), r, sym, int64(v), math.MinInt32, math.MaxInt32))
						continue
					}
					l.RelaxedGOTLoads++
					switch how {
					case relaxMovToLea:
						sec[r.Offset-2] = 0x8d
						le.PutUint32(loc, uint32(v))
					case relaxCall:
						sec[r.Offset-2] = 0x67 // addr32 prefix
						sec[r.Offset-1] = 0xe8 // call rel32
						le.PutUint32(loc, uint32(v))
					case relaxJmp:
						sec[r.Offset-2] = 0xe9 // jmp rel32
						le.PutUint32(sec[r.Offset-1:], uint32(v+1))
						loc[3] = 0x90 // nop
					}
					continue
				default:
					errs = append(errs, fmt.Errorf("%s: relocation %s is not supported in a %s executable", l.Where(int32(oi), int32(si), r.Offset), p.RelocName(r.Kind), p.Format()))
					continue
				}
				if int64(v) != int64(int32(v)) {
					errs = append(errs, l.rangeError(p, int32(oi), int32(si), r, sym, int64(v), math.MinInt32, math.MaxInt32))
					continue
				}
				le.PutUint32(loc, uint32(v))
			}
			if len(errs) >= maxRelocErrors {
				return errors.Join(errs...)
			}
		}
	}
	return errors.Join(errs...)
}

// rangeError reports a value that does not fit its field, as ld.lld does.
func (l *Layout) rangeError(p Platform, oi, si int32, r *obj.Reloc, sym *Symbol, v, lo, hi int64) error {
	hint := ""
	if sym.Kind != obj.SymSection {
		hint = "; references " + sym.Name
		if sym.Defined() {
			hint += "\n>>> defined in " + l.Objects[sym.Obj].Name
		}
	}
	return fmt.Errorf("%s: relocation %s out of range: %d is not in [%d, %d]%s",
		l.Where(oi, si, r.Offset), p.RelocName(r.Kind), v, lo, hi, hint)
}
