package invariant

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// PE outputs (ref/coff.IncrImage). The loaded ranges are the sections
// that are not discardable (.reloc is not program memory); the GOT is the
// section of the pointer cells, named by ref/coff (.got), whose COFF
// symbols are .refptr.NAME as lld-link writes its cells. COFF symbols
// carry no size: the atom's own is used.
//
// The format's checks:
//
//   - the section table: sections in ascending order and adjacent from
//     the first page after the headers (the Windows loader's rule), raw
//     data at multiples of FileAlignment inside the file and after the
//     headers, SizeOfImage the end of the last section rounded to the
//     page, the base relocation directory naming .reloc (5);
//   - the base relocations list exactly the image's pointer sites: every
//     Abs64 field of the current version and every GOT cell it uses, each
//     a DIR64 entry; a missing one leaves a pointer at the preferred base
//     when the loader rebases the image, an extra one corrupts what is
//     there (5);
//   - the COFF symbol table names only what the version defines and the
//     .refptr cell of each symbol loaded through the GOT, at its cell;
//     functions have the function type; the entry point is the entry
//     stub's address (6).

const (
	peRefptrPrefix     = ".refptr."
	peDtypeFunction    = 0x20
	peClassExternal    = 2
	peClassStatic      = 3
	peRelBasedAbsolute = 0
	peRelBasedDir64    = 10
	pePage             = 0x1000
	peGOTSection       = ".got" // ref/coff.IncrGOTSection
)

// readPE reads a PE32+ executable: the sections that are not
// discardable (the GOT's holds GOT slots), the COFF symbol table (the
// .refptr cells apart), and the format's checks.
func readPE(exe []byte) (*image, error) {
	f, syms, err := openPE(exe)
	if err != nil {
		return nil, err
	}
	oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
	if !ok {
		return nil, fmt.Errorf("not a PE32+ image")
	}
	base := oh.ImageBase
	im := &image{data: exe, entry: base + uint64(oh.AddressOfEntryPoint)}
	for _, s := range f.Sections {
		if s.Characteristics&pe.IMAGE_SCN_MEM_DISCARDABLE != 0 {
			continue
		}
		addr := base + uint64(s.VirtualAddress)
		vsize := uint64(s.VirtualSize)
		if vsize == 0 {
			vsize = uint64(s.Size)
		}
		seg := segment{name: s.Name, vaddr: addr, memsz: vsize, exec: s.Characteristics&pe.IMAGE_SCN_MEM_EXECUTE != 0}
		sec := section{name: s.Name, addr: addr, size: vsize, nobits: true, got: s.Name == peGOTSection}
		if s.Size > 0 {
			seg.off, seg.filesz, seg.body = uint64(s.Offset), min(uint64(s.Size), vsize), addr
			// Atoms live in the file-backed part; past it the section
			// is the room up to the next region.
			sec.off, sec.size, sec.nobits = seg.off, seg.filesz, false
		}
		im.segs = append(im.segs, seg)
		im.secs = append(im.secs, sec)
	}
	// Cells: .refptr.NAME symbols, by address.
	cells := map[uint64]string{}
	var symErrs []string
	for _, cs := range syms {
		name, index := cs.name, cs.index
		if cs.SectionNumber <= 0 || int(cs.SectionNumber) > len(f.Sections) {
			symErrs = append(symErrs, fmt.Sprintf("%s: section number %d is not a section of the image", name, cs.SectionNumber))
			continue
		}
		sec := f.Sections[cs.SectionNumber-1]
		value := base + uint64(sec.VirtualAddress) + uint64(cs.Value)
		if target, ok := strings.CutPrefix(name, peRefptrPrefix); ok {
			if prev, dup := cells[value]; dup {
				symErrs = append(symErrs, fmt.Sprintf("%s: at %#x, the cell of %s too", name, value, prev))
			}
			cells[value] = target
			continue
		}
		im.list = append(im.list, symbol{name: name, value: value, local: cs.StorageClass == peClassStatic, index: index})
	}
	im.check = func(im *image, atoms map[string]*obj.Atom, pointers, gotSlots map[uint64]string, add addFunc) {
		for _, e := range symErrs {
			add(6, "", 0, "%s", e)
		}
		checkPEHeaders(im, f, oh, add)
		checkPESymbols(im, syms, atoms, cells, add)
		checkBaseRelocs(im, f, oh, pointers, gotSlots, cells, add)
	}
	return im, nil
}

// checkPEHeaders checks the section table and the optional header's
// sizes against each other and the file.
func checkPEHeaders(im *image, f *pe.File, oh *pe.OptionalHeader64, add addFunc) {
	size := uint64(len(im.data))
	fa, sa := uint64(oh.FileAlignment), uint64(oh.SectionAlignment)
	if fa == 0 || sa == 0 || fa&(fa-1) != 0 || sa&(sa-1) != 0 || fa > sa {
		add(5, "", 0, "FileAlignment %#x and SectionAlignment %#x: not powers of two with the first no larger", fa, sa)
		return
	}
	next := alignUp(uint64(oh.SizeOfHeaders), sa)
	var relocSec *pe.Section
	for _, s := range f.Sections {
		rva, vsize := uint64(s.VirtualAddress), uint64(s.VirtualSize)
		if vsize == 0 {
			vsize = uint64(s.Size)
		}
		if rva != next {
			add(5, s.Name, oh.ImageBase+rva, "section at RVA %#x; the previous one ends at %#x: sections must be adjacent and in ascending order", rva, next)
		}
		next = alignUp(rva+vsize, sa)
		if s.Size > 0 {
			off, raw := uint64(s.Offset), uint64(s.Size)
			switch {
			case off%fa != 0 || raw%fa != 0:
				add(5, s.Name, oh.ImageBase+rva, "raw data [%#x, +%#x) not aligned to FileAlignment %#x", off, raw, fa)
			case off < uint64(oh.SizeOfHeaders):
				add(5, s.Name, oh.ImageBase+rva, "raw data at %#x inside the headers (SizeOfHeaders %#x)", off, oh.SizeOfHeaders)
			case off+raw > size:
				add(5, s.Name, oh.ImageBase+rva, "raw data [%#x, +%#x) extends past the end of the file (%#x bytes)", off, raw, size)
			}
		}
		if s.Name == ".reloc" {
			relocSec = s
		}
	}
	if uint64(oh.SizeOfImage) != next {
		add(5, "", 0, "SizeOfImage is %#x, the sections end at %#x", oh.SizeOfImage, next)
	}
	var dir pe.DataDirectory
	if len(oh.DataDirectory) > pe.IMAGE_DIRECTORY_ENTRY_BASERELOC {
		dir = oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_BASERELOC]
	}
	switch {
	case relocSec == nil && dir.Size != 0:
		add(5, ".reloc", 0, "the base relocation directory [%#x, +%#x) names no .reloc section", dir.VirtualAddress, dir.Size)
	case relocSec != nil && (dir.VirtualAddress != relocSec.VirtualAddress || dir.Size != relocSec.VirtualSize):
		add(5, ".reloc", oh.ImageBase+uint64(relocSec.VirtualAddress), "the base relocation directory is [%#x, +%#x), .reloc is [%#x, +%#x)",
			dir.VirtualAddress, dir.Size, relocSec.VirtualAddress, relocSec.VirtualSize)
	}
}

// checkPESymbols checks what only the COFF symbol table says: storage
// classes and function types, and the .refptr cells.
func checkPESymbols(im *image, syms []peSymbol, atoms map[string]*obj.Atom, cells map[uint64]string, add addFunc) {
	for _, cs := range syms {
		name := cs.name
		if cs.StorageClass != peClassExternal && cs.StorageClass != peClassStatic {
			add(6, name, 0, "storage class %d: neither external nor static", cs.StorageClass)
		}
		a := atoms[name]
		if a == nil || strings.HasPrefix(name, peRefptrPrefix) {
			continue
		}
		if fn := cs.Type&0x30 == peDtypeFunction; fn != (a.Kind == obj.Text) {
			add(6, name, im.syms[name].value, "symbol type %#x; the atom is %s", cs.Type, a.Kind)
		}
	}
	addrs := make([]uint64, 0, len(cells))
	for a := range cells {
		addrs = append(addrs, a)
	}
	sort.Slice(addrs, func(i, j int) bool { return addrs[i] < addrs[j] })
	for _, addr := range addrs {
		t := cells[addr]
		if sec := im.sectionOf(addr); sec == nil || !sec.got {
			add(3, peRefptrPrefix+t, addr, "the cell is not in %s", peGOTSection)
		}
		if atoms[t] == nil {
			add(3, peRefptrPrefix+t, addr, "the cell of a symbol the current version does not define")
		}
	}
}

// checkBaseRelocs checks that .reloc lists exactly the pointer sites.
func checkBaseRelocs(im *image, f *pe.File, oh *pe.OptionalHeader64, pointers, gotSlots, cells map[uint64]string, add addFunc) {
	le := binary.LittleEndian
	// The sites the version has: Abs64 fields, the GOT slots references
	// use, and the cells the symbol table names.
	want := make(map[uint64]string, len(pointers)+len(gotSlots))
	for a, where := range pointers {
		want[a] = where + " (a pointer)"
	}
	for a, sym := range gotSlots {
		want[a] = "the GOT cell of " + sym
	}
	for addr, t := range cells {
		if _, ok := want[addr]; !ok {
			want[addr] = "the cell " + peRefptrPrefix + t
		}
	}
	// The sites .reloc lists.
	got := map[uint64]bool{}
	if len(oh.DataDirectory) > pe.IMAGE_DIRECTORY_ENTRY_BASERELOC {
		dir := oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_BASERELOC]
		data, ok := rvaBytes(im.data, f, uint64(dir.VirtualAddress), uint64(dir.Size))
		if !ok && dir.Size > 0 {
			add(5, ".reloc", 0, "the base relocations [%#x, +%#x) are in no section's raw data", dir.VirtualAddress, dir.Size)
		}
		for off := uint64(0); off+8 <= uint64(len(data)); {
			page := uint64(le.Uint32(data[off:]))
			bsize := uint64(le.Uint32(data[off+4:]))
			if bsize < 8 || bsize%4 != 0 || bsize > uint64(len(data))-off || page%pePage != 0 {
				add(5, ".reloc", 0, "base relocation block at offset %#x: page %#x, size %d: malformed", off, page, bsize)
				break
			}
			for e := off + 8; e+2 <= off+bsize; e += 2 {
				v := le.Uint16(data[e:])
				at := oh.ImageBase + page + uint64(v&0xfff)
				switch v >> 12 {
				case peRelBasedAbsolute:
				case peRelBasedDir64:
					if got[at] {
						add(5, "", at, "listed twice in the base relocations")
					}
					got[at] = true
				default:
					add(5, "", at, "base relocation of type %d; the image's pointers are 64-bit (DIR64)", v>>12)
				}
			}
			off += bsize
		}
	}
	var missing, extra []uint64
	for a := range want {
		if !got[a] {
			missing = append(missing, a)
		}
	}
	for a := range got {
		if _, ok := want[a]; !ok {
			extra = append(extra, a)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
	sort.Slice(extra, func(i, j int) bool { return extra[i] < extra[j] })
	for _, a := range missing {
		add(5, "", a, "%s has no base relocation: rebasing the image would leave it pointing at the preferred base", want[a])
	}
	for _, a := range extra {
		add(5, "", a, "a base relocation where the version has no pointer: rebasing the image would corrupt what is there")
	}
}

// rvaBytes returns size bytes at rva from a section's raw data.
func rvaBytes(exe []byte, f *pe.File, rva, size uint64) ([]byte, bool) {
	for _, s := range f.Sections {
		va, raw := uint64(s.VirtualAddress), uint64(min(s.Size, max(s.VirtualSize, s.Size)))
		if rva >= va && rva+size <= va+raw {
			off := uint64(s.Offset) + rva - va
			if off+size <= uint64(len(exe)) {
				return exe[off : off+size], true
			}
		}
	}
	return nil, false
}

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }

// openPE reads a PE image's headers with debug/pe and its COFF symbol
// table itself: debug/pe reads the table one record at a time through
// encoding/binary's reflection, which was 40% of a PE check. NewFile is
// given the file with the table's pointer and count cleared in a copy of
// the file header, so it reads neither the table nor the string table.
func openPE(exe []byte) (*pe.File, []peSymbol, error) {
	if len(exe) < 0x40 {
		return nil, nil, fmt.Errorf("%d bytes: too short for a DOS header", len(exe))
	}
	fh := uint64(binary.LittleEndian.Uint32(exe[0x3c:])) + 4 // past "PE\0\0"
	if fh+peFileHeaderSize > uint64(len(exe)) {
		return nil, nil, fmt.Errorf("the file header at %#x is past the end of the file (%d bytes)", fh, len(exe))
	}
	hdr := slices.Clone(exe[fh : fh+peFileHeaderSize])
	table := binary.LittleEndian.Uint32(hdr[8:])
	count := binary.LittleEndian.Uint32(hdr[12:])
	clear(hdr[8:16])
	f, err := pe.NewFile(overlay{exe, int64(fh), hdr})
	if err != nil {
		return nil, nil, err
	}
	syms, err := readCOFFSymbols(exe, uint64(table), uint64(count))
	if err != nil {
		return nil, nil, err
	}
	return f, syms, nil
}

// peFileHeaderSize is the size of the COFF file header.
const peFileHeaderSize = 20

// overlay is exe with the bytes at off replaced by over.
type overlay struct {
	exe  []byte
	off  int64
	over []byte
}

func (o overlay) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(o.exe)) {
		return 0, io.EOF
	}
	n := copy(p, o.exe[off:])
	// The part of [off, off+n) that over covers.
	lo, hi := max(off, o.off), min(off+int64(n), o.off+int64(len(o.over)))
	if lo < hi {
		copy(p[lo-off:hi-off], o.over[lo-o.off:hi-o.off])
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// peSymbol is a COFF symbol table record (not an auxiliary one) with
// its name; index is its record index.
type peSymbol struct {
	name               string
	index              int
	Value              uint32
	SectionNumber      int16
	Type               uint16
	StorageClass       uint8
	NumberOfAuxSymbols uint8
}

// peSymbolSize is the size of a COFF symbol table record.
const peSymbolSize = 18

// readCOFFSymbols reads count records of the COFF symbol table at off and
// their names from the string table after it; the auxiliary records are
// skipped. Every offset is checked against the file.
func readCOFFSymbols(exe []byte, off, count uint64) ([]peSymbol, error) {
	if count == 0 {
		return nil, nil
	}
	size := uint64(len(exe))
	if off > size || count > (size-off)/peSymbolSize {
		return nil, fmt.Errorf("the COFF symbol table [%#x, +%d records) is past the end of the file (%d bytes)", off, count, size)
	}
	strs := off + count*peSymbolSize
	var strtab []byte
	if strs+4 <= size {
		n := uint64(binary.LittleEndian.Uint32(exe[strs:]))
		if n < 4 || n > size-strs {
			return nil, fmt.Errorf("the COFF string table at %#x: size %d does not fit the file (%d bytes)", strs, n, size)
		}
		strtab = exe[strs : strs+n]
	}
	le := binary.LittleEndian
	syms := make([]peSymbol, 0, count)
	for i := uint64(0); i < count; i++ {
		r := exe[off+i*peSymbolSize : off+(i+1)*peSymbolSize]
		s := peSymbol{index: int(i), Value: le.Uint32(r[8:]), SectionNumber: int16(le.Uint16(r[12:])), Type: le.Uint16(r[14:]), StorageClass: r[16], NumberOfAuxSymbols: r[17]}
		if le.Uint32(r[:4]) == 0 {
			at := uint64(le.Uint32(r[4:]))
			if at < 4 || at >= uint64(len(strtab)) {
				return nil, fmt.Errorf("symbol %d: name at string table offset %d, outside the table (%d bytes)", i, at, len(strtab))
			}
			name := strtab[at:]
			if k := bytes.IndexByte(name, 0); k >= 0 {
				name = name[:k]
			}
			s.name = string(name)
		} else {
			name := r[:8]
			if k := bytes.IndexByte(name, 0); k >= 0 {
				name = name[:k]
			}
			s.name = string(name)
		}
		syms = append(syms, s)
		i += uint64(s.NumberOfAuxSymbols)
	}
	return syms, nil
}
