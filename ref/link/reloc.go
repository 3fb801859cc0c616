package link

import (
	"errors"
	"fmt"
	"slices"

	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/par"
)

// maxRelocErrors bounds the number of relocation errors reported at once.
const maxRelocErrors = 20

// contents returns the loaded part of the image: every chunk's bytes at its
// file offset, the gaps inside code sections filled with the architecture's
// code fill byte (int3 on x86_64, as ld.lld fills them), other gaps zero.
func (l *Layout) contents(code byte) []byte {
	// Room for what formats append (symbol table, strings, headers).
	extra := uint64(len(l.Symbols))*40 + uint64(len(l.Sections))*64 + 4096
	img := make([]byte, l.FileSize, l.FileSize+extra)
	// In parallel, by runs of chunks, code filling only the gaps. Where a
	// chunk's data is not its size, or chunks overlap, it is all done
	// again in order (every code section filled, then the chunks copied,
	// a later one over an earlier one), which rewrites every byte the
	// parallel pass wrote.
	type run struct {
		s      *Section
		lo, hi int
	}
	var runs []run
	for _, s := range l.Sections {
		if s.Kind == obj.BSS || s.GOT || s.Size == 0 {
			continue
		}
		for lo := 0; lo < len(s.Chunks) || lo == 0; lo += perRun {
			runs = append(runs, run{s, lo, min(lo+perRun, len(s.Chunks))})
		}
	}
	if par.Each(len(runs), func(i int) error {
		rn := runs[i]
		return l.copyChunks(img, rn.s, rn.lo, rn.hi, code)
	}) == nil {
		return img
	}
	for _, s := range l.Sections {
		if s.Kind == obj.BSS || s.GOT || s.Size == 0 {
			continue // an empty section may be placed past the loaded part (EmptySectionKeeper)
		}
		if s.Kind == obj.Text {
			fill := img[s.Offset : s.Offset+s.Size]
			for i := range fill {
				fill[i] = code
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

// perRun is the number of chunks contents copies in one task.
const perRun = 4096

// errChunkSize stops contents' parallel copy: a chunk whose data is not
// its size.
var errChunkSize = errors.New("chunk data is not its size")

// copyChunks copies chunks [lo, hi) of s into img, and fills the gaps
// before and between them (and after the last of s) with code in a code
// section. Every chunk's data must be its size (else errChunkSize, and
// what was copied is to be done again).
func (l *Layout) copyChunks(img []byte, s *Section, lo, hi int, code byte) error {
	base := s.Offset
	text := s.Kind == obj.Text
	var end uint64 // where the previous chunk ends
	if lo > 0 {
		c := &s.Chunks[lo-1]
		end = c.Off + c.Size
	}
	fill := func(from, to uint64) {
		if text && from < to {
			f := img[base+from : base+to]
			for i := range f {
				f[i] = code
			}
		}
	}
	for ci := lo; ci < hi; ci++ {
		c := &s.Chunks[ci]
		d := c.Data
		if c.Obj >= 0 {
			d = l.Objects[c.Obj].Sections[c.Sec].Data
		}
		if uint64(len(d)) != c.Size {
			return errChunkSize
		}
		if c.Off < end {
			return errChunkSize // overlapping chunks: the serial order decides
		}
		fill(end, c.Off)
		copy(img[base+c.Off:], d)
		end = c.Off + c.Size
	}
	if hi == len(s.Chunks) {
		if end > s.Size {
			return errChunkSize
		}
		fill(end, s.Size)
	}
	return nil
}

// relocate applies every relocation into img and fills the GOT, with the
// arithmetic of the platform's architecture (package arch); a value that
// does not fit its field is reported as ld.lld reports it:
//
//	a.o:(.text+0x3): relocation R_X86_64_32 out of range: 4294967296 is not in [0, 4294967295]; references x
//	>>> defined in b.o
func (l *Layout) relocate(p Platform, opts Options, img []byte) error {
	ar := p.Arch()
	ptr := ar.PtrSize()
	syms := l.Symbols
	var gotAddr uint64
	if l.GOT.Section >= 0 {
		g := l.Sections[l.GOT.Section]
		gotAddr = g.Addr
		for i, id := range l.GOT.Slots {
			if id >= 0 {
				if err := ar.Apply(obj.Abs64, img[g.Offset+uint64(i)*ptr:], arch.Inputs{S: syms[id].Addr}); err != nil {
					return fmt.Errorf("GOT slot %d: %w", i, err)
				}
				l.PointerSites = append(l.PointerSites, g.Addr+uint64(i)*ptr)
			}
		}
	}
	tp := l.TLS.TP()
	if opts.Faults.Has(fault.LinkTPOffUnaligned) {
		tp = l.TLS.Addr + l.TLS.MemSize
	}
	l.writeIPLT(p, img)
	perSymbol := relaxesPerSymbol(p)
	// Each object's sections in parallel: they write disjoint bytes of
	// img; the errors, the pointer sites and the count of relaxed loads
	// are merged in input order, the errors cut after the section where
	// they reach maxRelocErrors, as one pass in order would.
	results := make([]relocResult, len(l.Objects))
	_ = par.Each(len(l.Objects), func(oi int) error {
		l.relocateObject(p, opts, img, oi, gotAddr, tp, perSymbol, &results[oi])
		return nil
	})
	var errs []error
	for oi := range results {
		r := &results[oi]
		for i := 0; i < len(r.errs); {
			j := i + 1
			for j < len(r.errs) && r.errSec[j] == r.errSec[i] {
				j++
			}
			errs = append(errs, r.errs[i:j]...)
			if len(errs) >= maxRelocErrors {
				return errors.Join(errs...)
			}
			i = j
		}
		l.RelaxedGOTLoads += r.relaxed
		l.PointerSites = append(l.PointerSites, r.sites...)
	}
	slices.Sort(l.PointerSites)
	return errors.Join(errs...)
}

// relaxation decides whether the GOT load r of sym is relaxed: the policy
// must allow it, the symbol must have a link-time address that is not
// absolute (ld.lld keeps the GOT for absolute and undefined weak symbols),
// and the architecture must know the instruction (which only a GOTLoad32,
// never a plain GOTPCRel32, can be; fault.LinkRelaxGOTPCRel forgets that).
func (l *Layout) relaxation(ar arch.Arch, opts Options, sym *Symbol, r *obj.Reloc, data []byte) arch.Relax {
	if opts.RelaxGOT != RelaxLikeLLD || !sym.Defined() || (sym.Sec == obj.Abs && !sym.Synthetic) {
		return arch.RelaxNone
	}
	k := r.Kind
	if k == obj.GOTPCRel32 && opts.Faults.Has(fault.LinkRelaxGOTPCRel) {
		k = obj.GOTLoad32
	}
	return ar.Relaxation(k, data, r.Offset, r.Addend)
}

// relocError reports a relocation the architecture could not apply: a
// value out of range as ld.lld words it, anything else with its place.
func (l *Layout) relocError(p Platform, oi, si int32, r *obj.Reloc, sym *Symbol, err error) error {
	var re *arch.RangeError
	if errors.As(err, &re) {
		return l.rangeError(p, oi, si, r, sym, re.Value, re.Low, re.High)
	}
	return fmt.Errorf("%s: relocation %s: %w", l.Where(oi, si, r.Offset), p.RelocName(r.Kind), err)
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

// relocResult is what relocating one object's sections gives: its errors,
// each with its section, its absolute pointer sites and its relaxed GOT
// loads.
type relocResult struct {
	errs    []error
	errSec  []int
	sites   []uint64
	relaxed int
}

func (r *relocResult) add(si int, err error) {
	r.errs = append(r.errs, err)
	r.errSec = append(r.errSec, si)
}

// relocateObject applies the relocations of object oi's sections into img
// (relocate's loop for one object).
func (l *Layout) relocateObject(p Platform, opts Options, img []byte, oi int, gotAddr, tp uint64, perSymbol bool, res *relocResult) {
	ar := p.Arch()
	ptr := ar.PtrSize()
	syms := l.Symbols
	o := l.Objects[oi]
	idx := l.SymIndex[oi]
	pls := l.Placements[oi]
	for si, s := range o.Sections {
		if len(s.Relocs) == 0 {
			continue
		}
		pl := &pls[si]
		out := l.Sections[pl.Out]
		base := out.Offset + out.Chunks[pl.Chunk].Off
		var sec []byte
		if pl.Pieces == nil {
			sec = img[base : base+s.Size]
		}
		addr := pl.Addr
		for ri := 0; ri < len(s.Relocs); ri++ {
			r := &s.Relocs[ri]
			sym := &syms[idx[r.Sym]]
			in := arch.Inputs{S: sym.Addr, A: r.Addend, P: addr + r.Offset, Base: p.ImageBase(), Z: sym.Size, GOT: l.GOTBase, TP: tp}
			var field []byte
			if pl.Pieces != nil {
				// An .eh_frame input: its records are scattered in
				// the merged chunk (only kept records' relocations,
				// none relaxable, are left; ehframe.go).
				o := out.Chunks[pl.Chunk].Off + pieceOffset(pl.Pieces, r.Offset)
				field, in.P = img[out.Offset+o:out.Offset+out.Size], out.Addr+o
			} else {
				field = sec[r.Offset:]
			}
			if sym.IPLT > 0 {
				in.S = l.iplt(p, sym) // a call of an indirect function goes to its PLT entry
			}
			if sym.mergeSection {
				in.S = l.SectionAddr(sym.Obj, sym.Sec, sym.Value+uint64(r.Addend)) - uint64(r.Addend)
			}
			switch {
			case r.Kind == obj.Branch32 && opts.Faults.Has(fault.LinkBranchBias):
				in.A = 0
			case r.Kind == obj.PCRel32 && opts.Faults.Has(fault.LinkPCRelSign):
				in = arch.Inputs{S: in.P, P: in.S, A: -in.A}
			}
			if !p.Supports(r.Kind) {
				res.add(si, fmt.Errorf("%s: relocation %s is not supported in a %s executable", l.Where(int32(oi), int32(si), r.Offset), p.RelocName(r.Kind), p.Format()))
				continue
			}
			if r.Kind == obj.GOTTPOff || r.Kind == obj.TLSGD || r.Kind == obj.TLSLD {
				tr, ok := ar.(arch.TLSRelaxer)
				if !ok {
					res.add(si, fmt.Errorf("%s: relocation %s is not supported on %s", l.Where(int32(oi), int32(si), r.Offset), p.RelocName(r.Kind), ar.Name()))
					continue
				}
				skip, err := tr.RelaxTLS(r.Kind, sec, r.Offset, in.S+uint64(in.A)-in.TP)
				if err != nil {
					res.add(si, l.relocError(p, int32(oi), int32(si), r, sym, err))
				}
				if skip {
					ri++
				}
				continue
			}
			if r.Kind.UsesGOT() {
				if how := l.relaxation(ar, opts, sym, r, s.Data); how != arch.RelaxNone && !(perSymbol && sym.GOTSlot >= 0) {
					// A relaxed load is S + A - P in a rewritten
					// instruction: range-check it as a PC-relative field.
					var tmp [4]byte
					if abs, ok := ar.(arch.AbsoluteRelaxer); ok && abs.RelaxesToAbsolute(how) {
						in.P = 0 // S + A, range-checked as a signed 32-bit field
					}
					if err := ar.Apply(obj.PCRel32, tmp[:], in); err != nil {
						res.add(si, l.relocError(p, int32(oi), int32(si), r, sym, err))
						continue
					}
					res.relaxed++
					ar.ApplyRelaxed(how, sec, r.Offset, in.S+uint64(in.A)-in.P)
					continue
				}
				in.G = gotAddr + uint64(sym.GOTSlot)*ptr
			}
			if err := ar.Apply(r.Kind, field, in); err != nil {
				res.add(si, l.relocError(p, int32(oi), int32(si), r, sym, err))
			} else if r.Kind == obj.Abs64 {
				res.sites = append(res.sites, in.P)
			}
		}
	}
}
