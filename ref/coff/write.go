package coff

import (
	"debug/pe"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// PE header sizes and field values, as lld-link 16 writes them for an
// x86_64 console executable.
const (
	dosStubSize        = 64 + 56 // DOS header and program; e_lfanew
	optionalHeaderSize = 240     // PE32+ with 16 data directories
	numDataDirs        = 16

	linkerMajor    = 14 // MajorLinkerVersion: lld-link writes link.exe 14.0's
	osMajor        = 6  // Major{OperatingSystem,Subsystem}Version
	stackReserve   = 1 << 20
	stackCommit    = 1 << 12
	heapReserve    = 1 << 20
	heapCommit     = 1 << 12
	fileChars      = pe.IMAGE_FILE_EXECUTABLE_IMAGE | pe.IMAGE_FILE_LARGE_ADDRESS_AWARE
	dllChars       = pe.IMAGE_DLLCHARACTERISTICS_HIGH_ENTROPY_VA | pe.IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE | pe.IMAGE_DLLCHARACTERISTICS_NX_COMPAT | pe.IMAGE_DLLCHARACTERISTICS_TERMINAL_SERVER_AWARE
	relBasedDir64  = 10 // IMAGE_REL_BASED_DIR64
	relocSectChars = pe.IMAGE_SCN_CNT_INITIALIZED_DATA | pe.IMAGE_SCN_MEM_DISCARDABLE | pe.IMAGE_SCN_MEM_READ
	textChars      = pe.IMAGE_SCN_CNT_CODE | pe.IMAGE_SCN_MEM_EXECUTE | pe.IMAGE_SCN_MEM_READ
	rdataChars     = pe.IMAGE_SCN_CNT_INITIALIZED_DATA | pe.IMAGE_SCN_MEM_READ
	dataChars      = pe.IMAGE_SCN_CNT_INITIALIZED_DATA | pe.IMAGE_SCN_MEM_READ | pe.IMAGE_SCN_MEM_WRITE
	bssChars       = pe.IMAGE_SCN_CNT_UNINITIALIZED_DATA | pe.IMAGE_SCN_MEM_READ | pe.IMAGE_SCN_MEM_WRITE
)

// dosStub is the MS-DOS header and program every PE image starts with,
// as lld-link writes it: e_magic "MZ", e_cblp 0x78, e_cp 1, e_cparhdr 4,
// e_lfarlc 0x40, e_lfanew 0x78, then the 56-byte program that prints
// "This program cannot be run in DOS mode." and exits.
var dosStub = func() []byte {
	b := make([]byte, dosStubSize)
	le := binary.LittleEndian
	copy(b, "MZ")
	le.PutUint16(b[2:], dosStubSize) // bytes in the last page
	le.PutUint16(b[4:], 1)           // pages
	le.PutUint16(b[8:], 4)           // header paragraphs
	le.PutUint16(b[0x18:], 0x40)     // relocation table offset
	le.PutUint32(b[0x3c:], dosStubSize)
	// push cs; pop ds; mov dx, msg; mov ah, 9; int 21h; mov ax, 4c01h; int 21h
	prog := append([]byte{0x0e, 0x1f, 0xba, 0x0e, 0x00, 0xb4, 0x09, 0xcd, 0x21, 0xb8, 0x01, 0x4c, 0xcd, 0x21},
		"This program cannot be run in DOS mode.$"...)
	copy(b[0x40:], prog)
	return b
}()

// imageSection is one section of the image as the writer sees it.
type imageSection struct {
	name            string
	rva, vsize      uint64
	rawOff, rawSize uint64
	chars           uint32
	code            bool
	first, last     int // link sections (indexes) it spans
	segment         int // index in Layout.Segments, -1 for .reloc
}

// Write implements link.Platform: it completes the image with the
// section padding (int3 in code), .reloc, the COFF symbol table and the
// headers.
func (p Exe) Write(l *link.Layout, image []byte) ([]byte, error) {
	w := &exeWriter{l: l, faults: p.Faults}
	return w.write(image)
}

type exeWriter struct {
	l      *link.Layout
	faults fault.Set
	secs   []imageSection
	// peIndex maps a segment index to its 1-based section number.
	peIndex map[int]int
}

func (w *exeWriter) write(image []byte) ([]byte, error) {
	l := w.l
	w.peIndex = map[int]int{}
	for si, seg := range l.Segments {
		if si == 0 || len(seg.Sections) == 0 {
			continue
		}
		first := l.Sections[seg.Sections[0]]
		p, _ := placeOf(first)
		s := imageSection{name: p.name, rva: seg.Addr - ExeImageBase, vsize: seg.MemSize, segment: si,
			first: seg.Sections[0], last: seg.Sections[len(seg.Sections)-1]}
		s.chars = sectionChars(p, first)
		s.code = s.chars&pe.IMAGE_SCN_CNT_CODE != 0
		if seg.FileSize > 0 {
			s.rawOff = seg.Offset
			s.rawSize = alignUp(seg.FileSize, ExeFileAlign)
		}
		if s.rva+s.vsize > 1<<32-1 {
			return nil, fmt.Errorf("section %s: larger than 4 GiB", s.name)
		}
		w.secs = append(w.secs, s)
		w.peIndex[si] = len(w.secs)
	}
	if len(w.secs) == 0 {
		return nil, fmt.Errorf("no section has contents")
	}
	// The file: every section's raw data, padded; code padding is int3.
	end := uint64(len(image))
	for _, s := range w.secs {
		end = max(end, s.rawOff+s.rawSize)
	}
	image = grow(image, end)
	for _, s := range w.secs {
		if !s.code || s.rawSize == 0 {
			continue
		}
		pos := s.rawOff
		for i := s.first; i <= s.last; i++ {
			ls := l.Sections[i]
			if ls.Segment < 0 || ls.FileSize == 0 {
				continue
			}
			fill(image[pos:ls.Offset], 0xcc)
			pos = ls.Offset + ls.FileSize
		}
		fill(image[pos:s.rawOff+s.rawSize], 0xcc)
	}
	if w.faults.Has(fault.PEStaleCell) && l.GOT.Section >= 0 {
		g := l.Sections[l.GOT.Section]
		fill(image[g.Offset:g.Offset+8], 0)
	}
	// The exception table: .pdata's RUNTIME_FUNCTION entries, sorted by
	// start address as lld-link sorts them.
	var pdataDir [2]uint64
	for _, s := range w.secs {
		if s.name == ".pdata" && s.rawSize > 0 {
			pdataDir = [2]uint64{s.rva, s.vsize}
			sortRuntimeFunctions(image[s.rawOff : s.rawOff+min(s.vsize, s.rawSize)])
			break
		}
	}
	// .reloc.
	var relocDir [2]uint64
	sites := l.PointerSites
	if w.faults.Has(fault.PEMissingBaseReloc) && len(sites) > 0 {
		sites = sites[1:]
	}
	if blocks := baseRelocs(sites); len(blocks) > 0 {
		last := w.secs[len(w.secs)-1]
		r := imageSection{name: ".reloc", rva: alignUp(last.rva+last.vsize, ExeSectionAlign), vsize: uint64(len(blocks)),
			chars: relocSectChars, segment: -1, rawOff: alignUp(end, ExeFileAlign), rawSize: alignUp(uint64(len(blocks)), ExeFileAlign)}
		image = grow(image, r.rawOff)
		image = append(image, blocks...)
		image = grow(image, r.rawOff+r.rawSize)
		w.secs = append(w.secs, r)
		relocDir = [2]uint64{r.rva, r.vsize}
		end = r.rawOff + r.rawSize
	}
	if got, want := headerSize(len(w.secs)), l.HeaderSize; got > want {
		return nil, fmt.Errorf("%d sections need %#x bytes of headers, the layout reserved %#x", len(w.secs), got, want)
	}
	// The COFF symbol table and its string table, as /debug:symtab.
	symtab, strtab, nsyms := w.symbols()
	symOff := uint64(0)
	if nsyms > 0 || len(strtab) > 4 {
		symOff = end
		image = append(image, symtab...)
		image = append(image, strtab...)
		image = grow(image, alignUp(uint64(len(image)), ExeFileAlign))
	}

	// Headers.
	impDir, iatDir := importDirs(l)
	dirs := map[int][2]uint64{
		pe.IMAGE_DIRECTORY_ENTRY_IMPORT:    impDir,
		pe.IMAGE_DIRECTORY_ENTRY_IAT:       iatDir,
		pe.IMAGE_DIRECTORY_ENTRY_EXCEPTION: pdataDir,
		pe.IMAGE_DIRECTORY_ENTRY_BASERELOC: relocDir,
	}
	putHeaders(image[:l.HeaderSize], peHeaders{secs: w.secs, entryRVA: l.Entry - ExeImageBase, symOff: symOff, nsyms: nsyms,
		headerSize: l.HeaderSize, dirs: dirs, staleSizeOfImage: w.faults.Has(fault.PEStaleSizeOfImage)})
	return image, nil
}

// peHeaders are what the PE headers say about an image: its sections (in
// order, .reloc last when present), entry point, COFF symbol table, header
// size and data directories (index → RVA and size).
type peHeaders struct {
	secs             []imageSection
	entryRVA, symOff uint64
	nsyms            int
	headerSize       uint64
	dirs             map[int][2]uint64
	// staleSizeOfImage is fault.PEStaleSizeOfImage: SizeOfImage misses
	// the last section.
	staleSizeOfImage bool
	// sizeOfUninit is SizeOfUninitializedData (0 when .bss is merged into
	// .data, as lld-link does).
	sizeOfUninit uint64
}

// putHeaders writes the DOS stub, the PE signature, the file and optional
// headers and the section table into h (SizeOfHeaders bytes), with
// lld-link 16's field values.
func putHeaders(h []byte, p peHeaders) {
	le := binary.LittleEndian
	copy(h, dosStub)
	off := uint64(dosStubSize)
	copy(h[off:], "PE\x00\x00")
	fh := h[off+4:]
	le.PutUint16(fh[0:], pe.IMAGE_FILE_MACHINE_AMD64)
	le.PutUint16(fh[2:], uint16(len(p.secs)))
	le.PutUint32(fh[4:], 0) // TimeDateStamp: 0, for reproducible output
	le.PutUint32(fh[8:], uint32(p.symOff))
	le.PutUint32(fh[12:], uint32(p.nsyms))
	le.PutUint16(fh[16:], optionalHeaderSize)
	le.PutUint16(fh[18:], fileChars)
	oh := fh[fileHeaderSize:]
	var sizeOfCode, sizeOfInit, baseOfCode uint64
	for _, s := range p.secs {
		if s.name == ".text" && s.code && baseOfCode == 0 {
			baseOfCode, sizeOfCode = s.rva, s.rawSize
		}
		if s.chars&pe.IMAGE_SCN_CNT_INITIALIZED_DATA != 0 {
			sizeOfInit += s.rawSize
		}
	}
	last := p.secs[len(p.secs)-1]
	sizeOfImage := alignUp(last.rva+last.vsize, ExeSectionAlign)
	if p.staleSizeOfImage {
		sizeOfImage = last.rva
	}
	le.PutUint16(oh[0:], 0x20b) // PE32+
	oh[2] = linkerMajor
	le.PutUint32(oh[4:], uint32(sizeOfCode))
	le.PutUint32(oh[8:], uint32(sizeOfInit))
	le.PutUint32(oh[12:], uint32(p.sizeOfUninit))
	le.PutUint32(oh[16:], uint32(p.entryRVA))
	le.PutUint32(oh[20:], uint32(baseOfCode))
	le.PutUint64(oh[24:], ExeImageBase)
	le.PutUint32(oh[32:], ExeSectionAlign)
	le.PutUint32(oh[36:], ExeFileAlign)
	le.PutUint16(oh[40:], osMajor)
	le.PutUint16(oh[48:], osMajor)
	le.PutUint32(oh[56:], uint32(sizeOfImage))
	le.PutUint32(oh[60:], uint32(p.headerSize))
	le.PutUint32(oh[64:], 0) // CheckSum: lld-link writes 0 without /release
	le.PutUint16(oh[68:], pe.IMAGE_SUBSYSTEM_WINDOWS_CUI)
	le.PutUint16(oh[70:], dllChars)
	le.PutUint64(oh[72:], stackReserve)
	le.PutUint64(oh[80:], stackCommit)
	le.PutUint64(oh[88:], heapReserve)
	le.PutUint64(oh[96:], heapCommit)
	le.PutUint32(oh[108:], numDataDirs)
	dirs := oh[112:]
	for i, d := range p.dirs {
		le.PutUint32(dirs[8*i:], uint32(d[0]))
		le.PutUint32(dirs[8*i+4:], uint32(d[1]))
	}
	st := oh[optionalHeaderSize:]
	for i, s := range p.secs {
		sh := st[i*sectionHeaderSize:]
		copy(sh[0:8], s.name) // longer names are cut, as lld-link does for non-discardable sections
		le.PutUint32(sh[8:], uint32(s.vsize))
		le.PutUint32(sh[12:], uint32(s.rva))
		le.PutUint32(sh[16:], uint32(s.rawSize))
		le.PutUint32(sh[20:], uint32(s.rawOff))
		le.PutUint32(sh[36:], s.chars)
	}
}

// sectionChars are the characteristics lld-link gives a PE section: those
// of the section it created for a well-known name (.data keeps its own
// when .bss is merged into it), else those of its first partial section.
func sectionChars(p peSection, first *link.Section) uint32 {
	switch p.name {
	case ".text":
		return textChars
	case ".data":
		return dataChars
	case ".rdata", ".buildid", ".pdata", ".rsrc":
		return rdataChars
	}
	switch {
	case first.Kind == obj.Text:
		return textChars
	case first.Kind == obj.BSS:
		return bssChars
	case first.Kind == obj.Data && !first.GOT:
		return dataChars
	}
	return rdataChars
}

// baseRelocs encodes the .reloc blocks for the pointer sites (absolute
// addresses, sorted): one block per 4 KiB page, each a page RVA, a block
// size and one IMAGE_REL_BASED_DIR64 entry per site, padded to 4 bytes
// with an IMAGE_REL_BASED_ABSOLUTE entry, as lld-link writes them.
func baseRelocs(sites []uint64) []byte {
	le := binary.LittleEndian
	var out []byte
	for i := 0; i < len(sites); {
		page := (sites[i] - ExeImageBase) &^ (ExeSectionAlign - 1)
		j := i
		for j < len(sites) && (sites[j]-ExeImageBase)&^(ExeSectionAlign-1) == page {
			j++
		}
		size := alignUp(8+2*uint64(j-i), 4)
		start := len(out)
		out = append(out, make([]byte, size)...)
		b := out[start:]
		le.PutUint32(b[0:], uint32(page))
		le.PutUint32(b[4:], uint32(size))
		for k := i; k < j; k++ {
			le.PutUint16(b[8+2*(k-i):], relBasedDir64<<12|uint16(sites[k]-ExeImageBase-page))
		}
		i = j
	}
	return out
}

// symbols returns the COFF symbol table and string table lld-link writes
// with /debug:symtab: object by object, each object's symbols in its
// symbol table's order, every defined symbol once at its first mention
// (an undefined reference to a symbol defined later is where it is
// written), section symbols left out; after each object's symbols, the
// .refptr.NAME cells (GOT slots) it was the first to refer to. Values are
// offsets in the PE section, names over 8 bytes go to the string table.
func (w *exeWriter) symbols() (symtab, strtab []byte, n int) {
	l := w.l
	le := binary.LittleEndian
	strtab = []byte{0, 0, 0, 0}
	written := make([]bool, len(l.Symbols))
	add := func(name string, addr uint64, sec int16, typ uint16, class uint8) {
		symtab, strtab = appendSymbol(symtab, strtab, name, addr, sec, typ, class)
		n++
	}
	place := func(s *link.Symbol) (uint64, int16, bool) {
		if s.Sec == obj.Abs {
			return s.Addr, symAbsolute, true
		}
		seg := -1
		if out := l.Sections[l.Placements[s.Obj][s.Sec].Out]; out.Segment >= 0 {
			seg = out.Segment
		} else {
			for si, sg := range l.Segments {
				if si > 0 && len(sg.Sections) > 0 && s.Addr >= sg.Addr && s.Addr <= sg.Addr+sg.MemSize {
					seg = si
					break
				}
			}
		}
		idx, ok := w.peIndex[seg]
		if !ok {
			return 0, 0, false
		}
		return s.Addr - (ExeImageBase + w.secs[idx-1].rva), int16(idx), true
	}
	imports := -1 // the synthesized import tables' object
	if n := len(l.Objects); n > 0 && l.Objects[n-1].Name == ImportObjectName {
		imports = n - 1
	}
	var put func(id int32)
	put = func(id int32) {
		s := &l.Symbols[id]
		if written[id] || !s.Defined() || s.Sec == obj.Abs && (s.Name == "@feat.00" || s.Name == "@comp.id") {
			return // lld-link reads @feat.00 and @comp.id and drops them
		}
		written[id] = true
		v, sec, ok := place(s)
		if !ok {
			return
		}
		var typ uint16
		if s.Kind == obj.SymFunc {
			typ = symDtypeFunction
		}
		class := uint8(symClassExternal)
		if s.Bind == obj.Local {
			class = symClassStatic
		}
		add(s.Name, v, sec, typ, class)
		if int(s.Obj) == imports && s.Kind == obj.SymFunc {
			// A thunk is followed by its IAT entry, as lld-link writes them.
			if slot := l.Lookup(ImportPrefix + s.Name); slot >= 0 {
				put(slot)
			}
		}
	}
	nextSlot := int32(0)
	for oi, o := range l.Objects {
		if oi == imports {
			break // its symbols are written where inputs refer to them
		}
		for k, os := range o.Symbols {
			if os.Kind == obj.SymSection {
				continue
			}
			put(l.SymIndex[oi][k])
		}
		// The cells this object was the first to use, in slot order.
		last := nextSlot
		for _, sec := range o.Sections {
			for i := range sec.Relocs {
				r := &sec.Relocs[i]
				if !r.Kind.UsesGOT() {
					continue
				}
				if slot := l.Symbols[l.SymIndex[oi][r.Sym]].GOTSlot; slot >= last {
					last = slot + 1
				}
			}
		}
		for slot := nextSlot; slot < last; slot++ {
			id := l.GOT.Slots[slot]
			if id < 0 {
				continue
			}
			t := &l.Symbols[id]
			addr := l.SlotAddr(slot)
			g := l.Sections[l.GOT.Section]
			idx, ok := w.peIndex[g.Segment]
			if !ok {
				continue
			}
			class := uint8(symClassExternal)
			if t.Bind == obj.Local {
				class = symClassStatic
			}
			add(RefptrPrefix+t.Name, addr-(ExeImageBase+w.secs[idx-1].rva), int16(idx), 0, class)
		}
		nextSlot = max(nextSlot, last)
	}
	le.PutUint32(strtab, uint32(len(strtab)))
	return symtab, strtab, n
}

// appendSymbol appends a COFF symbol table entry (no auxiliary records)
// to symtab, its name to strtab when longer than 8 bytes.
func appendSymbol(symtab, strtab []byte, name string, value uint64, sec int16, typ uint16, class uint8) ([]byte, []byte) {
	le := binary.LittleEndian
	var e [symbolSize]byte
	if len(name) <= 8 {
		copy(e[0:8], name)
	} else {
		le.PutUint32(e[4:], uint32(len(strtab)))
		strtab = append(append(strtab, name...), 0)
	}
	le.PutUint32(e[8:], uint32(value))
	le.PutUint16(e[12:], uint16(sec))
	le.PutUint16(e[14:], typ)
	e[16] = class
	return append(symtab, e[:]...), strtab
}

// grow extends b with zeros to n bytes.
func grow(b []byte, n uint64) []byte {
	if uint64(len(b)) >= n {
		return b
	}
	return append(b, make([]byte, n-uint64(len(b)))...)
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

// sortRuntimeFunctions sorts the 12-byte RUNTIME_FUNCTION entries of an
// x86_64 exception table by their start RVA (stably).
func sortRuntimeFunctions(b []byte) {
	const size = 12
	n := len(b) / size
	entries := make([][size]byte, n)
	for i := range entries {
		copy(entries[i][:], b[i*size:])
	}
	sort.SliceStable(entries, func(i, j int) bool {
		return binary.LittleEndian.Uint32(entries[i][:]) < binary.LittleEndian.Uint32(entries[j][:])
	})
	for i := range entries {
		copy(b[i*size:], entries[i][:])
	}
}
