package canon

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// The PE loader: a PE32+ x86_64 image (as lld-link and the reference
// linker write it) turned into the neutral file model.
//
// PE images keep no symbols unless the linker writes a COFF symbol table
// (lld-link's /debug:symtab, which oracle/lld passes, and the reference
// linker always); without one the image cannot be canonicalized. The
// pointer cells that stand in for a GOT (.refptr.NAME, see ref/coff) are
// not symbols of the model: each run of them becomes a GOT-like section of
// its own, so that a load through a cell is seen through as a GOT load and
// no data symbol's extent covers the cells. Base relocations are the
// image's own pointer sites.

// PointersFromBaseRelocs is Image.PointerSource when, without input
// objects, a PE image's base relocations (.reloc) located its pointers.
const PointersFromBaseRelocs = "base-relocs"

// PE layout constants the loader reads.
const (
	peDOSHeaderSize     = 64
	peFileHeaderSize    = 20
	peSectionHeaderSize = 40
	peSymbolSize        = 18
	peMagic64           = 0x20b
	peMachineAMD64      = 0x8664
	peDirBaseReloc      = 5
	peScnCntCode        = 0x00000020
	peScnCntUninit      = 0x00000080
	peScnDiscardable    = 0x02000000
	peScnExecute        = 0x20000000
	peScnWrite          = 0x80000000
	peSymAbsolute       = -1
	peClassExternal     = 2
	peClassStatic       = 3
	peClassLabel        = 6
	peClassWeakExternal = 105
	peDtypeFunction     = 0x20
	peRelBasedAbsolute  = 0
	peRelBasedHighLow   = 3
	peRelBasedDir64     = 10
	peMaxSections       = 1 << 16
	peCellSize          = 8
	peRefptrPrefix      = ".refptr."
)

// peReservedNames are symbols lld-link defines itself.
var peReservedNames = map[string]bool{
	"__ImageBase": true, "__buildid": true, "__safe_se_handler_table": true, "__safe_se_handler_count": true,
	"__guard_fids_table": true, "__guard_fids_count": true, "__guard_flags": true,
	"__guard_iat_table": true, "__guard_iat_count": true, "__guard_longjmp_table": true, "__guard_longjmp_count": true,
	"__guard_eh_cont_table": true, "__guard_eh_cont_count": true,
	"__CTOR_LIST__": true, "__DTOR_LIST__": true, "__RUNTIME_PSEUDO_RELOC_LIST__": true, "__RUNTIME_PSEUDO_RELOC_LIST_END__": true,
}

// peError is a malformed-image error naming the place.
func peError(format string, args ...any) error {
	return fmt.Errorf("canon: pe: %w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// peSection is a PE section header as the loader reads it.
type peSection struct {
	name                   string
	vaddr, vsize           uint64
	rawOff, rawSize, chars uint64
	pieces                 []*section // the model sections it became, by address
}

// loadPE reads a PE32+ x86_64 image: its mapped sections, the COFF symbol
// table and the base relocations.
func loadPE(exe []byte) (*file, error) {
	le := binary.LittleEndian
	if len(exe) < peDOSHeaderSize || exe[0] != 'M' || exe[1] != 'Z' {
		return nil, peError("no MZ header")
	}
	peOff := uint64(le.Uint32(exe[0x3c:]))
	if peOff > uint64(len(exe)) || uint64(len(exe))-peOff < 4+peFileHeaderSize {
		return nil, peError("e_lfanew %#x: the PE header is past the end of the file (%#x bytes)", peOff, len(exe))
	}
	if !bytes.Equal(exe[peOff:peOff+4], []byte("PE\x00\x00")) {
		return nil, peError("offset %#x: no PE signature", peOff)
	}
	fh := exe[peOff+4:]
	machine := le.Uint16(fh[0:])
	nsect := uint64(le.Uint16(fh[2:]))
	symOff := uint64(le.Uint32(fh[8:]))
	nsyms := uint64(le.Uint32(fh[12:]))
	optSize := uint64(le.Uint16(fh[16:]))
	if machine != peMachineAMD64 {
		return nil, peError("machine %#x is not AMD64", machine)
	}
	optOff := peOff + 4 + peFileHeaderSize
	if optSize < 112 || optOff+optSize > uint64(len(exe)) {
		return nil, peError("optional header of %d bytes at %#x does not fit a PE32+ header in the file", optSize, optOff)
	}
	opt := exe[optOff : optOff+optSize]
	if le.Uint16(opt) != peMagic64 {
		return nil, peError("optional header magic %#x is not PE32+ (0x20b)", le.Uint16(opt))
	}
	base := le.Uint64(opt[24:])
	f := &file{format: "pe", size: len(exe), entry: base + uint64(le.Uint32(opt[16:])), decoder: x86_64{}, mergedBSS: true}
	shOff := optOff + optSize
	if nsect*peSectionHeaderSize > uint64(len(exe))-min(shOff, uint64(len(exe))) {
		return nil, peError("%d section headers at %#x run past the end of the file", nsect, shOff)
	}
	secs := make([]*peSection, 0, nsect)
	for i := uint64(0); i < nsect; i++ {
		h := exe[shOff+i*peSectionHeaderSize:]
		s := &peSection{name: string(bytes.TrimRight(h[0:8], "\x00")), vsize: uint64(le.Uint32(h[8:])), vaddr: uint64(le.Uint32(h[12:])),
			rawSize: uint64(le.Uint32(h[16:])), rawOff: uint64(le.Uint32(h[20:])), chars: uint64(le.Uint32(h[36:]))}
		mapped := s.vsize
		if mapped == 0 {
			mapped = s.rawSize
		}
		if n := min(s.rawSize, mapped); n > 0 && (s.rawOff > uint64(len(exe)) || uint64(len(exe))-s.rawOff < n) {
			return nil, peError("section %d %q: raw data [%#x, +%#x) past the end of the file (%#x bytes)", i+1, s.name, s.rawOff, s.rawSize, len(exe))
		}
		secs = append(secs, s)
	}
	syms, cells, err := peSymbols(exe, secs, symOff, nsyms, base)
	if err != nil {
		return nil, err
	}
	peSections(exe, secs, cells, base, f)
	for _, s := range syms {
		s.fileSymbol.sec = nil
		if s.sec != nil {
			s.fileSymbol.sec = s.sec.pieceAt(s.value)
			if s.fileSymbol.sec == nil {
				continue // outside the mapped part of its section
			}
		}
		f.symbols = append(f.symbols, s.fileSymbol)
	}
	if nDirs := uint64(le.Uint32(opt[108:])); nDirs > peDirBaseReloc && optSize >= 112+8*(peDirBaseReloc+1) {
		d := opt[112+8*peDirBaseReloc:]
		peBaseRelocs(exe, secs, uint64(le.Uint32(d[0:])), uint64(le.Uint32(d[4:])), base, f)
	}
	return f, nil
}

// peSym is a symbol of the COFF symbol table with its PE section.
type peSym struct {
	fileSymbol
	sec *peSection
}

// pieceAt returns the model section of s holding addr (or ending at it,
// for an empty symbol at a section's end).
func (s *peSection) pieceAt(addr uint64) *section {
	for _, p := range s.pieces {
		if p.contains(addr) {
			return p
		}
	}
	if n := len(s.pieces); n > 0 && addr == s.pieces[n-1].addr+s.pieces[n-1].size {
		return s.pieces[n-1]
	}
	return nil
}

// peSymbols reads the COFF symbol table: the defined symbols of the model
// and the addresses of the .refptr cells, by PE section.
func peSymbols(exe []byte, secs []*peSection, off, n, base uint64) ([]peSym, map[*peSection][]uint64, error) {
	le := binary.LittleEndian
	if off == 0 || n == 0 {
		return nil, nil, peError("no COFF symbol table (PointerToSymbolTable %#x, %d symbols): link with /debug:symtab", off, n)
	}
	if n > maxSymbols {
		return nil, nil, peError("%d symbols (limit %d)", n, maxSymbols)
	}
	if off > uint64(len(exe)) || (uint64(len(exe))-off)/peSymbolSize < n {
		return nil, nil, peError("symbol table at %#x with %d symbols runs past the end of the file", off, n)
	}
	strOff := off + n*peSymbolSize
	var strtab []byte
	if uint64(len(exe))-strOff >= 4 {
		size := uint64(le.Uint32(exe[strOff:]))
		if size >= 4 && size <= uint64(len(exe))-strOff {
			strtab = exe[strOff : strOff+size]
		}
	}
	var syms []peSym
	cells := map[*peSection][]uint64{}
	for i := uint64(0); i < n; i++ {
		e := exe[off+i*peSymbolSize : off+(i+1)*peSymbolSize]
		naux := uint64(e[17])
		var name string
		if le.Uint32(e[0:]) == 0 {
			so := uint64(le.Uint32(e[4:]))
			if so < 4 || so >= uint64(len(strtab)) {
				return nil, nil, peError("symbol %d: name offset %#x outside the string table (%d bytes)", i, so, len(strtab))
			}
			end := bytes.IndexByte(strtab[so:], 0)
			if end < 0 {
				return nil, nil, peError("symbol %d: name at string table offset %#x is not terminated", i, so)
			}
			name = string(strtab[so : so+uint64(end)])
		} else {
			name = string(bytes.TrimRight(e[0:8], "\x00"))
		}
		value := uint64(le.Uint32(e[8:]))
		secNum := int16(le.Uint16(e[12:]))
		typ := le.Uint16(e[14:])
		class := e[16]
		i += naux
		if name == "" || (class != peClassExternal && class != peClassStatic && class != peClassWeakExternal) {
			continue
		}
		s := peSym{fileSymbol: fileSymbol{name: name, kind: KindObject, reserved: peReservedNames[name]}}
		switch class {
		case peClassExternal:
			s.bind = BindGlobal
		case peClassStatic:
			s.bind = BindLocal
		default:
			s.bind = BindWeak
		}
		switch {
		case secNum == peSymAbsolute:
			s.value = value
		case secNum > 0 && int(secNum) <= len(secs):
			s.sec = secs[secNum-1]
			if naux > 0 && class == peClassStatic && value == 0 && name == s.sec.name {
				continue // a section definition
			}
			s.value = base + s.sec.vaddr + value
			if s.sec.chars&peScnDiscardable != 0 {
				continue
			}
			if strings.HasPrefix(name, peRefptrPrefix) && s.sec.chars&peScnExecute == 0 {
				cells[s.sec] = append(cells[s.sec], s.value)
				continue
			}
		default:
			continue // undefined, debug or a bad section number
		}
		switch {
		case typ&0x30 == peDtypeFunction:
			s.kind = KindFunc
		case s.sec != nil && s.sec.chars&(peScnExecute|peScnCntCode) != 0:
			s.kind = KindNone
		}
		syms = append(syms, s)
	}
	return syms, cells, nil
}

// peSections adds the mapped sections to f, each cut at the runs of
// pointer cells it holds: a run is a section of its own marked got.
func peSections(exe []byte, secs []*peSection, cells map[*peSection][]uint64, base uint64, f *file) {
	for _, s := range secs {
		if s.chars&peScnDiscardable != 0 {
			continue // .reloc and other discardable sections are not mapped for the program
		}
		size := s.vsize
		if size == 0 {
			size = s.rawSize
		}
		if size == 0 {
			continue
		}
		flags := "A"
		if s.chars&peScnWrite != 0 {
			flags += "W"
		}
		if s.chars&peScnExecute != 0 {
			flags += "X"
		}
		addr := base + s.vaddr
		fileLen := min(s.rawSize, size)
		var data []byte
		if fileLen > 0 {
			data = exe[s.rawOff : s.rawOff+fileLen]
		}
		// Cut points: the starts and ends of runs of consecutive cells.
		type cut struct {
			at  uint64
			got bool
		}
		cuts := []cut{{addr, false}}
		cs := cells[s]
		sort.Slice(cs, func(i, j int) bool { return cs[i] < cs[j] })
		for i := 0; i < len(cs); {
			if cs[i] < addr || cs[i]+peCellSize > addr+size {
				i++
				continue
			}
			j := i + 1
			for j < len(cs) && cs[j] == cs[j-1]+peCellSize {
				j++
			}
			if cs[i] == cuts[len(cuts)-1].at {
				cuts[len(cuts)-1].got = true
			} else if cs[i] > cuts[len(cuts)-1].at {
				cuts = append(cuts, cut{cs[i], true})
			}
			cuts = append(cuts, cut{cs[j-1] + peCellSize, false})
			i = j
		}
		for k, c := range cuts {
			end := addr + size
			if k+1 < len(cuts) {
				end = cuts[k+1].at
			}
			if end <= c.at {
				continue
			}
			// Bytes past the file's raw data read as zeros (.bss merged
			// into .data): a piece that straddles the end of the raw data
			// gets a zero-filled copy when that is small next to the
			// file, else it is cut there into a part with contents and a
			// NOBITS part.
			lo, hi := c.at-addr, end-addr
			if lo < fileLen && hi > fileLen && hi-lo > 4*uint64(len(exe))+(1<<20) {
				s.addPiece(f, &section{name: s.name, addr: c.at, size: fileLen - lo, flags: flags, got: c.got, data: data[lo:fileLen]})
				s.addPiece(f, &section{name: s.name, addr: addr + fileLen, size: hi - fileLen, flags: flags, got: c.got, nobits: true})
				continue
			}
			p := &section{name: s.name, addr: c.at, size: end - c.at, flags: flags, got: c.got}
			switch {
			case lo >= fileLen:
				p.nobits = true
			case hi <= fileLen:
				p.data = data[lo:hi]
			default:
				p.data = make([]byte, hi-lo)
				copy(p.data, data[lo:fileLen])
			}
			s.addPiece(f, p)
		}
	}
}

// addPiece adds p to f as a piece of s.
func (s *peSection) addPiece(f *file, p *section) {
	s.pieces = append(s.pieces, p)
	f.sections = append(f.sections, p)
}

// peBaseRelocs reads the base relocation blocks at rva (size bytes) into
// f's own sites: DIR64 entries are Abs64 fields, HIGHLOW ones Abs32.
func peBaseRelocs(exe []byte, secs []*peSection, rva, size, base uint64, f *file) {
	if size == 0 {
		return
	}
	f.ownSource = PointersFromBaseRelocs
	var data []byte
	for _, s := range secs {
		if s.rawOff > uint64(len(exe)) {
			continue
		}
		raw := min(s.rawSize, uint64(len(exe))-s.rawOff)
		if rva >= s.vaddr && rva-s.vaddr < raw && size <= raw-(rva-s.vaddr) {
			data = exe[s.rawOff+rva-s.vaddr : s.rawOff+rva-s.vaddr+size]
			break
		}
	}
	if data == nil {
		f.siteNotes = append(f.siteNotes, fmt.Sprintf("base relocations at RVA %#x (%d bytes) are in no section's file data", rva, size))
		return
	}
	le := binary.LittleEndian
	seen := map[uint64]bool{}
	for off := uint64(0); off+8 <= uint64(len(data)); {
		page := uint64(le.Uint32(data[off:]))
		bsize := uint64(le.Uint32(data[off+4:]))
		if bsize < 8 || bsize > uint64(len(data))-off || bsize%2 != 0 {
			f.siteNotes = append(f.siteNotes, fmt.Sprintf("base relocation block at RVA %#x: size %d is invalid", rva+off, bsize))
			break
		}
		for e := off + 8; e+2 <= off+bsize && len(f.ownSites) < maxSites; e += 2 {
			v := le.Uint16(data[e:])
			at := base + page + uint64(v&0xfff)
			var k obj.RelocKind
			switch v >> 12 {
			case peRelBasedAbsolute:
				continue
			case peRelBasedDir64:
				k = obj.Abs64
			case peRelBasedHighLow:
				k = obj.Abs32
			default:
				if len(f.siteNotes) < maxNotes {
					f.siteNotes = append(f.siteNotes, fmt.Sprintf("base relocation at %#x: type %d is not supported", at, v>>12))
				}
				continue
			}
			if !seen[at] {
				seen[at] = true
				f.ownSites = append(f.ownSites, site{addr: at, kind: k})
			}
		}
		off += bsize
	}
	sort.Slice(f.ownSites, func(i, j int) bool { return f.ownSites[i].addr < f.ownSites[j].addr })
}
