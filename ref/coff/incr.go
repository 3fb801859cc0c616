package coff

import (
	"debug/pe"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// The incremental output's layout (incr.Image): the DOS stub, PE headers
// and a section table for six sections in the first 0x400 bytes of the
// file, then the regions of incr.RegionOrder (but .bss) at 512-byte
// aligned file offsets, each as large as its capacity, then the tail:
// .reloc (the base relocations) and the COFF symbol table with its string
// table, rewritten when symbols or pointer sites change.
//
// In memory the regions are IncrRegionSpan apart from the first page on;
// the Windows loader wants sections adjacent, so every region's
// VirtualSize reaches the next region's base, and the last region's
// (.bss) its capacity. .reloc follows .bss: when .bss or .reloc grows,
// .reloc's RVA, SizeOfImage and the base relocation directory change.
const (
	// IncrRegionSpan is the address space of each region: 64 MiB, so
	// that SizeOfImage stays well inside what an emulator maps.
	IncrRegionSpan = 0x4000000
	// incrHeaderSize is SizeOfHeaders: room for the six sections.
	incrHeaderSize = 0x400
	// IncrGOTSection names the region of the pointer cells (the GOT).
	IncrGOTSection = ".got"
)

// incrSectionNames are the PE section names of the regions.
var incrSectionNames = map[string]string{
	incr.RegText: ".text", incr.RegROData: ".rdata", incr.RegData: ".data", incr.RegGOT: IncrGOTSection, incr.RegBSS: ".bss",
}

// incrSectionChars are the regions' characteristics. The cells are
// read-only data, as lld-link's .refptr cells in .rdata: only the loader
// writes them, when it rebases the image.
var incrSectionChars = map[string]uint32{
	incr.RegText: textChars, incr.RegROData: rdataChars, incr.RegData: dataChars, incr.RegGOT: rdataChars, incr.RegBSS: bssChars,
}

// IncrImage is the incr.Image of PE32+ executables: one PE section per
// region, .reloc listing every absolute pointer (Abs64 fields and GOT
// cells) as a DIR64 base relocation, and a COFF symbol table sorted by
// name, then the .refptr.NAME symbols of the GOT cells in slot order (so
// that the canonical image sees the cells as a GOT, as in lld-link's
// output).
type IncrImage struct{}

var (
	_ incr.Image         = IncrImage{}
	_ incr.RegionSpanner = IncrImage{}
	_ incr.PointerLister = IncrImage{}
	_ incr.Tail          = (*incrTail)(nil)
)

// Format implements incr.Image.
func (IncrImage) Format() obj.Format { return obj.COFF }

// Arch implements incr.Image.
func (IncrImage) Arch() arch.Arch { return arch.X86_64{} }

// BaseAddr implements incr.Image: the first page after the headers.
func (IncrImage) BaseAddr() uint64 { return ExeImageBase + ExeSectionAlign }

// HeaderSize implements incr.Image: SizeOfHeaders.
func (IncrImage) HeaderSize() uint64 { return incrHeaderSize }

// FileAlign implements incr.Image: FileAlignment.
func (IncrImage) FileAlign() uint64 { return ExeFileAlign }

// RegionSpan implements incr.RegionSpanner.
func (IncrImage) RegionSpan() uint64 { return IncrRegionSpan }

// ListsPointers implements incr.PointerLister: .reloc lists every pointer.
func (IncrImage) ListsPointers() bool { return true }

// IncrPointerSites returns the absolute pointer sites of the state, sorted:
// every Abs64 field of an atom and every GOT cell in use. They are what
// .reloc lists.
func IncrPointerSites(st *incr.State) []uint64 {
	var sites []uint64
	for _, a := range st.Atoms {
		if a.Kind == obj.BSS {
			continue
		}
		for _, r := range a.Relocs {
			if r.Kind == obj.Abs64 {
				sites = append(sites, a.Addr+r.Offset)
			}
		}
	}
	for i, s := range st.GOT.Slots {
		if s != "" {
			sites = append(sites, st.GOTAddr(i))
		}
	}
	sort.Slice(sites, func(i, j int) bool { return sites[i] < sites[j] })
	return sites
}

// Tail implements incr.Image: .reloc (padded to the file alignment), then
// the COFF symbol table and its string table.
func (IncrImage) Tail(st *incr.State, fl *incr.FileLayout) (incr.Tail, error) {
	t := &incrTail{symIdx: make(map[string]int, len(st.Atoms)), tailOff: fl.TailOff}
	sites := IncrPointerSites(st)
	if st.Faults().Has(fault.PEMissingBaseReloc) && len(sites) > 0 {
		sites = sites[1:]
	}
	for _, s := range sites {
		if s-ExeImageBase >= 1<<32 {
			return nil, fmt.Errorf("pointer site %#x: outside the 4 GiB image", s)
		}
	}
	blocks := baseRelocs(sites)
	t.relocSize = uint64(len(blocks))
	t.bytes = grow(blocks, alignUp(uint64(len(blocks)), ExeFileAlign))

	secIndex := map[string]int16{}
	for i, n := range incr.RegionOrder {
		secIndex[n] = int16(i + 1)
	}
	names := make([]string, 0, len(st.Atoms))
	for n := range st.Atoms {
		names = append(names, n)
	}
	sort.Strings(names)
	var symtab []byte
	strtab := []byte{0, 0, 0, 0}
	for i, n := range names {
		a := st.Atoms[n]
		reg := incr.RegionFor(a.Kind)
		var typ uint16
		if a.Kind == obj.Text {
			typ = symDtypeFunction
		}
		class := uint8(symClassExternal)
		if a.Local {
			class = symClassStatic
		}
		t.symIdx[n] = i
		symtab, strtab = appendSymbol(symtab, strtab, n, a.Addr-st.Regions[reg].Base, secIndex[reg], typ, class)
	}
	for i, s := range st.GOT.Slots {
		if s == "" {
			continue
		}
		class := uint8(symClassExternal)
		if a := st.Atoms[s]; a != nil && a.Local {
			class = symClassStatic
		}
		symtab, strtab = appendSymbol(symtab, strtab, RefptrPrefix+s, st.GOTAddr(i)-st.Regions[incr.RegGOT].Base, secIndex[incr.RegGOT], 0, class)
	}
	binary.LittleEndian.PutUint32(strtab, uint32(len(strtab)))
	t.nsyms = len(symtab) / symbolSize
	t.symOff = fl.TailOff + uint64(len(t.bytes))
	t.bytes = append(t.bytes, symtab...)
	t.bytes = append(t.bytes, strtab...)
	return t, nil
}

// incrTail is the tail as IncrImage wrote it.
type incrTail struct {
	bytes     []byte
	tailOff   uint64 // .reloc's file offset
	relocSize uint64 // the base relocation blocks' size (0: no .reloc)
	symOff    uint64
	nsyms     int
	// symIdx maps an atom's name to its symbol table entry: entries are
	// sorted by name, so an index is stable while the set of symbols is.
	symIdx map[string]int
}

// Bytes implements incr.Tail.
func (t *incrTail) Bytes() []byte { return t.bytes }

// Headers implements incr.Tail: the DOS stub, the PE headers and the
// section table for the state's current region capacities and entry.
func (t *incrTail) Headers(st *incr.State, fl *incr.FileLayout) ([]incr.Chunk, error) {
	e, ok := st.Atoms[st.Entry]
	if !ok {
		return nil, fmt.Errorf("no entry symbol %s", st.Entry)
	}
	secs := make([]imageSection, 0, len(incr.RegionOrder)+1)
	var uninit uint64
	for i, n := range incr.RegionOrder {
		r := st.Regions[n]
		s := imageSection{name: incrSectionNames[n], rva: r.Base - ExeImageBase, chars: incrSectionChars[n], segment: i}
		s.code = s.chars&pe.IMAGE_SCN_CNT_CODE != 0
		if i+1 < len(incr.RegionOrder) {
			s.vsize = st.Regions[incr.RegionOrder[i+1]].Base - r.Base
		} else {
			s.vsize = alignUp(r.Cap, ExeSectionAlign)
		}
		if n == incr.RegBSS {
			uninit = s.vsize
		} else {
			s.rawOff, s.rawSize = fl.Off[n], fl.Size[n]
		}
		secs = append(secs, s)
	}
	dirs := map[int][2]uint64{}
	if t.relocSize > 0 {
		last := secs[len(secs)-1]
		r := imageSection{name: ".reloc", rva: alignUp(last.rva+last.vsize, ExeSectionAlign), vsize: t.relocSize,
			chars: relocSectChars, segment: -1, rawOff: t.tailOff, rawSize: alignUp(t.relocSize, ExeFileAlign)}
		secs = append(secs, r)
		dirs[pe.IMAGE_DIRECTORY_ENTRY_BASERELOC] = [2]uint64{r.rva, r.vsize}
	}
	if end := secs[len(secs)-1].rva + secs[len(secs)-1].vsize; end >= 1<<32 {
		return nil, fmt.Errorf("image of %#x bytes: larger than 4 GiB", end)
	}
	h := make([]byte, incrHeaderSize)
	putHeaders(h, peHeaders{secs: secs, entryRVA: e.Addr - ExeImageBase, symOff: t.symOff, nsyms: t.nsyms, headerSize: incrHeaderSize,
		dirs: dirs, staleSizeOfImage: st.Faults().Has(fault.PEStaleSizeOfImage), sizeOfUninit: uninit})
	return []incr.Chunk{{Off: 0, Data: h}}, nil
}

// Symbol implements incr.Tail: the value (offset in its section) of the
// atom's entry.
func (t *incrTail) Symbol(st *incr.State, name string) (incr.Chunk, bool) {
	i, ok := t.symIdx[name]
	a := st.Atoms[name]
	if !ok || a == nil {
		return incr.Chunk{}, false
	}
	var v [4]byte
	binary.LittleEndian.PutUint32(v[:], uint32(a.Addr-st.Regions[incr.RegionFor(a.Kind)].Base))
	return incr.Chunk{Off: t.symOff + uint64(i)*symbolSize + 8, Data: v[:]}, true
}
