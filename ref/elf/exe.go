package elf

import (
	"debug/elf"
	"strings"

	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Layout constants of ELF executables, as ld.lld 16 chooses them for
// x86_64 by default.
const (
	// ExeImageBase is the address of the file's first byte.
	ExeImageBase = 0x200000
	// ExePageSize is the maximum page size: segments are aligned to it.
	ExePageSize = 0x1000
)

// Exe is the link.Platform of static ELF64 x86_64 executables (ET_EXEC):
// the file ld.lld writes by default for objects without dynamic
// dependencies. The file holds, in order: the ELF header, the program
// headers (PT_PHDR, one PT_LOAD per segment, PT_TLS, PT_GNU_RELRO when
// there is a GOT, PT_GNU_EH_FRAME with .eh_frame_hdr, PT_GNU_STACK,
// PT_NOTEs), the loaded sections, then .symtab, .shstrtab, .strtab
// and the section header table.
type Exe struct{}

var _ link.Platform = Exe{}

// KeepsEmptySections implements link.EmptySectionKeeper: ld.lld writes a
// section header for an empty output section (an empty .text holding
// _start) and gives it an address, though no segment holds it.
func (Exe) KeepsEmptySections() bool { return true }

// GOTInSymbolOrder implements link.SymbolOrderGOT: ld.lld gives GOT
// slots by symbol (globals first), not by first reference.
func (Exe) GOTInSymbolOrder() bool { return true }

// MissingEntryWarns implements link.EntryWarner: as ld.lld, a missing
// entry symbol is a warning and the entry address 0.
func (Exe) MissingEntryWarns() bool { return true }

// rules are ld.lld's layout rules with its page size.
var rules = link.ELFRules{Page: ExePageSize}

// SectionRank implements link.Platform with ld.lld's order; allocated
// notes come first, before the other read-only sections.
// Read-only NOBITS sections come after the notes, before the other
// read-only data, as ld.lld places them.
//
// Thread-local sections open the RELRO part, .tdata before .tbss, as in
// ld.lld.
func (Exe) SectionRank(s *link.Section) int {
	switch {
	case s.Note && s.Kind == obj.ROData:
		return -2
	case s.Kind == obj.BSS && s.Exec:
		return 8*rules.SectionRank(&link.Section{Kind: obj.Text}) + 2 // after the code and .iplt, in the code segment
	case s.Kind == obj.BSS && s.ReadOnly:
		return -1
	case s.Name == ipltRelaSection && s.Kind == obj.ROData:
		return -1 // with the read-only NOBITS, before the other read-only data
	case s.Name == ipltSection && s.Kind == obj.Text:
		return 8*rules.SectionRank(s) + 1 // after .text
	case s.Name == gotBaseSection && s.Kind == obj.Data:
		return 8*rules.SectionRank(s) + 1 // after .data, before .bss, as ld.lld
	case s.Kind == obj.Text && s.Writable:
		return 8*rules.SectionRank(s) + 3 // after the other code (and executable NOBITS), before RELRO, as ld.lld
	case s.TLS && s.Kind == obj.BSS:
		return 8*rules.SectionRank(&link.Section{GOT: true}) - 1
	case s.TLS:
		return 8*rules.SectionRank(&link.Section{GOT: true}) - 2
	}
	return 8 * rules.SectionRank(s)
}

// noteGroups returns the runs of non-empty note sections, contiguous in
// l.Sections and of one alignment: each gets a PT_NOTE, as in ld.lld.
func noteGroups(l *link.Layout) [][2]int {
	var groups [][2]int
	prev := -1
	for i, s := range l.Sections {
		if s.Size == 0 {
			continue
		}
		isNote := s.Note && s.Kind == obj.ROData
		if isNote && prev >= 0 && groups[len(groups)-1][1] == prev && l.Sections[prev].Align == s.Align {
			groups[len(groups)-1][1] = i
		} else if isNote {
			groups = append(groups, [2]int{i, i})
		}
		prev = -1
		if isNote {
			prev = i
		}
	}
	return groups
}

// SegmentKey implements link.Platform: a segment per permission set.
func (Exe) SegmentKey(s *link.Section) string { return rules.SegmentKey(s) }

// SegmentStart implements link.Platform as ld.lld places segments.
func (Exe) SegmentStart(addr, off uint64) (uint64, uint64) { return rules.SegmentStart(addr, off) }

// SectionStart implements link.Platform as ld.lld places sections.
func (Exe) SectionStart(s *link.Section, addr, off uint64) (uint64, uint64) {
	return rules.SectionStart(s, addr, off)
}

// Format implements link.Platform.
func (Exe) Format() obj.Format { return obj.ELF }

// ImageBase implements link.Platform.
func (Exe) ImageBase() uint64 { return ExeImageBase }

// PageSize implements link.Platform.
func (Exe) PageSize() uint64 { return ExePageSize }

// GOTSectionName implements link.Platform.
func (Exe) GOTSectionName() string { return ".got" }

// OutputSectionName implements link.Platform with ld.lld's rules: an input
// section named P or P.anything, for P one of .text, .rodata, .data,
// .data.rel.ro, .bss, .bss.rel.ro (and the other prefixes ld.lld knows),
// goes to output section P: .text.f goes to .text, .rodata.str1.1 to
// .rodata, .data.g to .data, .bss.h to .bss. Other names are kept.
func (Exe) OutputSectionName(s *obj.Section) string {
	if s.Common {
		return ".bss" // common symbols, as ld.lld allocates them
	}
	name := s.Name
	// Fast path: the part before the second dot is a plain prefix.
	if len(name) > 1 && name[0] == '.' {
		head := name
		if i := strings.IndexByte(name[1:], '.'); i >= 0 {
			head = name[:i+1]
		}
		switch head {
		case ".text", ".rodata", ".bss", ".tbss", ".tdata", ".ldata", ".lrodata", ".lbss", ".init_array", ".fini_array", ".preinit_array", ".gcc_except_table":
			return head
		case ".data":
			if isSectionPrefix(name, ".data.rel.ro") {
				return ".data.rel.ro"
			}
			return head
		}
		if isSectionPrefix(name, ".bss.rel.ro") {
			return ".bss.rel.ro"
		}
	}
	return name
}

// isSectionPrefix reports whether name is p or starts with p followed by a dot.
func isSectionPrefix(name, p string) bool {
	return strings.HasPrefix(name, p) && (len(name) == len(p) || name[len(p)] == '.')
}

// Arch implements link.Platform: x86_64.
func (Exe) Arch() arch.Arch { return arch.X86_64{} }

// Supports implements link.Platform: every kind but the image-relative
// ImageRel32, which only PE images have.
func (Exe) Supports(k obj.RelocKind) bool {
	switch k {
	case obj.ImageRel32:
		return false
	}
	return true
}

// RelocName implements link.Platform: the ELF name of each kind.
// GOTLoad32 is read from both R_X86_64_GOTPCRELX and
// R_X86_64_REX_GOTPCRELX and is named by the latter.
func (Exe) RelocName(k obj.RelocKind) string {
	switch k {
	case obj.Abs64:
		return "R_X86_64_64"
	case obj.Abs32:
		return "R_X86_64_32"
	case obj.Abs32S:
		return "R_X86_64_32S"
	case obj.PCRel32:
		return "R_X86_64_PC32"
	case obj.Branch32:
		return "R_X86_64_PLT32"
	case obj.GOTPCRel32:
		return "R_X86_64_GOTPCREL"
	case obj.GOTLoad32:
		return "R_X86_64_REX_GOTPCRELX"
	case obj.ImageRel32:
		return "IMAGE_REL_AMD64_ADDR32NB"
	}
	if t, ok := elfRelocTypes[k]; ok {
		return t.String()
	}
	return k.String()
}

// phdrCount returns the number of program headers of l.
func phdrCount(l *link.Layout) int {
	n := 2 + len(l.Segments) + l.DroppedSegments + len(noteGroups(l)) // PT_PHDR, PT_LOADs (dropped empty ones reserved, as ld.lld), PT_GNU_STACK, PT_NOTEs
	if _, ok := relroHeader(l); ok {
		n++
	}
	if hasTLS(l) {
		n++ // PT_TLS
	}
	if l.EHFrame.Hdr != nil {
		n++ // PT_GNU_EH_FRAME
	}
	return n
}

// hasTLS reports whether l has TLS sections, and so a PT_TLS. (The
// headers are sized before addresses are assigned: l.TLS is not known
// yet.)
// An empty TLS section makes one too, as in ld.lld.
func hasTLS(l *link.Layout) bool {
	for _, s := range l.Sections {
		if s.TLS {
			return true
		}
	}
	return false
}

// relroHeader returns the PT_GNU_RELRO of l: the RELRO segment, up to
// its page's end; as ld.lld, RELRO sections that are all empty make one
// too, empty, where the first of them is.
func relroHeader(l *link.Layout) (progHeader, bool) {
	if i := relroSegment(l); i >= 0 {
		// Consecutive RELRO segments (a writable code array before the
		// data ones) are covered by one PT_GNU_RELRO, as in ld.lld.
		s, last := l.Segments[i], l.Segments[i]
		for j := i + 1; j < len(l.Segments) && l.Segments[j].Relro; j++ {
			last = l.Segments[j]
		}
		end := (last.Addr + last.MemSize + ExePageSize - 1) &^ (ExePageSize - 1)
		return progHeader{elf.PT_GNU_RELRO, elf.PF_R, s.Offset, s.Addr, last.Offset + last.FileSize - s.Offset, end - s.Addr, 1}, true
	}
	for _, s := range l.Sections {
		if s.GOT || s.Relro {
			end := (s.Addr + ExePageSize - 1) &^ (ExePageSize - 1)
			return progHeader{elf.PT_GNU_RELRO, elf.PF_R, s.Offset, s.Addr, 0, end - s.Addr, 1}, true
		}
	}
	return progHeader{}, false
}

func relroSegment(l *link.Layout) int {
	for i, s := range l.Segments {
		if s.Relro {
			return i
		}
	}
	return -1
}

// HeaderSize implements link.Platform: the ELF header and the program
// headers.
func (Exe) HeaderSize(l *link.Layout) uint64 {
	return ehdrSize + uint64(phdrCount(l))*phdrSize
}

// Write implements link.Platform: it fills in the headers at the start of
// image and appends the symbol table, the string tables and the section
// headers.
func (Exe) Write(l *link.Layout, image []byte) ([]byte, error) {
	// Section header indexes: null, the output sections (empty ones too,
	// as ld.lld keeps them), then
	// .symtab, .shstrtab, .strtab (ld.lld's order).
	shndx := make([]uint16, len(l.Sections))
	nsh := 1
	for i := range l.Sections {
		shndx[i] = uint16(nsh)
		nsh++
	}
	// .symtab and .strtab.
	nsyms := 1 + len(l.Symbols)
	// .symtab is built in place, in the image's spare capacity where
	// appendTo puts it (8-aligned after the loaded part), when it fits;
	// the spare capacity is zero.
	var symtab []byte
	if at := alignUp(uint64(len(image)), 8); uint64(cap(image)) >= at+uint64(nsyms)*symSize {
		symtab = image[at : at+symSize : at+uint64(nsyms)*symSize]
		clear(symtab)
	} else {
		symtab = make([]byte, symSize, nsyms*symSize)
	}
	strtab := make([]byte, 1, 16*nsyms)
	// addStr adds a name to .strtab (unshared, as ld.lld writes it).
	addStr := func(name string) uint32 {
		off := uint32(len(strtab))
		strtab = append(append(strtab, name...), 0)
		return off
	}
	putSym := func(s *link.Symbol) {
		var sec uint16
		switch {
		case !s.Defined():
			sec = uint16(elf.SHN_UNDEF)
		case s.Synthetic && s.OutSection >= 0:
			sec = shndx[s.OutSection]
		case s.Synthetic:
			sec = 1 // the file header: ld.lld writes the first section's index
		case s.Sec == obj.Abs:
			sec = uint16(elf.SHN_ABS)
		default:
			out := l.Placements[s.Obj][s.Sec].Out
			sec = shndx[out]
			if sec == 0 {
				sec = uint16(elf.SHN_ABS) // in an empty section that was dropped
			}
		}
		bind := s.Bind
		if bind != obj.Local && s.Defined() && s.Visibility.Localized() {
			bind = obj.Local // hidden and internal globals are local in the output, as in ld.lld
		}
		value := s.Addr
		if s.Kind == obj.SymTLS && s.Defined() {
			value -= l.TLS.Addr // st_value of a TLS symbol is its offset in the TLS template
		}
		symtab = symbolEntry{name: addStr(s.Name), info: symInfo(bind, s.Kind), other: byte(s.Visibility), shndx: sec, value: value, size: s.Size}.appendTo(symtab)
	}
	// Each object's locals follow its STT_FILE symbol, as in ld.lld; an
	// object without locals still gets its STT_FILE.
	putFile := func(name string) {
		symtab = symbolEntry{name: addStr(name), info: byte(elf.STB_LOCAL)<<4 | byte(elf.STT_FILE), shndx: uint16(elf.SHN_ABS)}.appendTo(symtab)
	}
	// Hidden and internal globals become locals of their defining
	// object, after its own locals (ld.lld groups locals by file).
	localized := make(map[int32][]int)
	for i := range l.Symbols {
		if s := &l.Symbols[i]; s.Bind != obj.Local && s.Defined() && s.Visibility.Localized() {
			localized[s.Obj] = append(localized[s.Obj], i)
		}
	}
	nextFile := 0 // the next object whose STT_FILE is still to be written
	filesUpTo := func(oi int) {
		for ; nextFile <= oi && nextFile < len(l.Objects); nextFile++ {
			if nextFile > 0 {
				for _, i := range localized[int32(nextFile-1)] {
					putSym(&l.Symbols[i])
				}
			}
			if o := l.Objects[nextFile]; o != nil && o.File != "" {
				putFile(o.File)
			}
		}
	}
	for i := range l.Symbols {
		s := &l.Symbols[i]
		if s.Bind != obj.Local || s.Kind == obj.SymSection || !keepLocal(l, s) {
			continue
		}
		filesUpTo(int(s.Obj))
		putSym(s)
	}
	filesUpTo(len(l.Objects) - 1)
	for _, i := range localized[int32(len(l.Objects)-1)] {
		putSym(&l.Symbols[i])
	}
	firstGlobal := uint32(len(symtab) / symSize)
	for i := range l.Symbols {
		if s := &l.Symbols[i]; s.Bind != obj.Local && !(s.Defined() && s.Visibility.Localized()) {
			putSym(s)
		}
	}

	e := &exeFile{entry: l.Entry, symtab: symtab, strtab: strtab, firstGlobal: firstGlobal}
	for _, s := range l.Sections {
		typ := elf.SHT_PROGBITS
		flags := elf.SHF_ALLOC
		switch {
		case s.Kind == obj.Text:
			flags |= elf.SHF_EXECINSTR
			if s.Writable {
				flags |= elf.SHF_WRITE
			}
		case s.Note && s.Kind == obj.ROData:
			typ = elf.SHT_NOTE
		case s.Kind == obj.BSS:
			typ = elf.SHT_NOBITS
			if !s.ReadOnly {
				flags |= elf.SHF_WRITE
			}
			if s.Exec {
				flags |= elf.SHF_EXECINSTR
			}
		case s.Kind == obj.Data || s.GOT:
			flags |= elf.SHF_WRITE
			if t := ArraySectionType(s.Name); t != elf.SHT_NULL {
				typ = t
			}
		}
		if s.ArrayType != 0 {
			typ = elf.SectionType(s.ArrayType)
		}
		if s.TLS {
			flags |= elf.SHF_TLS
		}
		var entsize uint64
		if s.Merge {
			flags |= elf.SHF_MERGE
			entsize = s.EntSize
			if s.Strings {
				flags |= elf.SHF_STRINGS
			}
		}
		var info uint32
		if s == l.IPLT.Rela {
			typ, flags, entsize = elf.SHT_RELA, elf.SHF_ALLOC|elf.SHF_INFO_LINK, relaSize
			info = uint32(shndx[l.IPLT.GOT.Index])
		}
		e.names = append(e.names, s.Name)
		e.sections = append(e.sections, sectionHeader{typ: typ, flags: flags, addr: s.Addr, off: s.Offset, size: s.Size, align: s.Align, entsize: entsize, info: info})
	}

	// Program headers.
	phSize := uint64(phdrCount(l)) * phdrSize
	e.phdrs = append(e.phdrs, progHeader{elf.PT_PHDR, elf.PF_R, ehdrSize, ExeImageBase + ehdrSize, phSize, phSize, 8})
	for _, s := range l.Segments {
		e.phdrs = append(e.phdrs, progHeader{elf.PT_LOAD, elf.ProgFlag(s.Perm), s.Offset, s.Addr, s.FileSize, s.MemSize, ExePageSize})
	}
	if hasTLS(l) {
		t := l.TLS
		e.phdrs = append(e.phdrs, progHeader{elf.PT_TLS, elf.PF_R, t.Offset, t.Addr, t.FileSize, t.MemSize, t.Align})
	}
	if h, ok := relroHeader(l); ok {
		e.phdrs = append(e.phdrs, h)
	}
	if h := l.EHFrame.Hdr; h != nil {
		e.phdrs = append(e.phdrs, progHeader{elf.PT_GNU_EH_FRAME, elf.PF_R, h.Offset, h.Addr, h.Size, h.Size, h.Align})
	}
	e.phdrs = append(e.phdrs, progHeader{elf.PT_GNU_STACK, elf.PF_R | elf.PF_W, 0, 0, 0, 0, 0})
	for _, g := range noteGroups(l) {
		a, b := l.Sections[g[0]], l.Sections[g[1]]
		size := b.Addr + b.Size - a.Addr
		e.phdrs = append(e.phdrs, progHeader{elf.PT_NOTE, elf.PF_R, a.Offset, a.Addr, size, size, a.Align})
	}
	return e.appendTo(image)
}

// keepLocal reports whether a local symbol goes into .symtab. As in ld.lld,
// assembler temporaries (.L names) in merged sections are dropped: their
// addresses are those of deduplicated pieces.
func keepLocal(l *link.Layout, s *link.Symbol) bool {
	if !strings.HasPrefix(s.Name, ".L") || !s.Defined() || s.Sec < 0 {
		return true
	}
	return l.Placements[s.Obj][s.Sec].Pieces == nil
}
