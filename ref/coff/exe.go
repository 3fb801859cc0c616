package coff

import (
	"strings"

	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Layout constants of PE32+ images, as lld-link 16 chooses them for x86_64
// console executables.
const (
	// ExeImageBase is the preferred load address of an executable.
	ExeImageBase = 0x140000000
	// ExeSectionAlign is the alignment of sections in memory
	// (SectionAlignment, the page).
	ExeSectionAlign = 0x1000
	// ExeFileAlign is the alignment of section data in the file
	// (FileAlignment).
	ExeFileAlign = 0x200
)

// GOTSection is the name of the input sections that hold pointer cells
// (.refptr.NAME) and of the reference linker's GOT: a '$' group of .rdata
// that sorts after the plain .rdata sections, so that lld-link lays the
// cells of WriteObject's objects out exactly where the reference linker
// puts its GOT (see docs/pe.md).
const GOTSection = ".rdata$.refptr"

// Exe is the link.Platform of PE32+ x86_64 executables as lld-link 16
// writes them for `/entry:_start /subsystem:console /nodefaultlib`: the
// DOS stub and PE headers, the sections (.text, .rdata, .data with .bss
// merged at its end, ...), each its own 4 KiB-aligned region in memory and
// 512-byte-aligned in the file, then .reloc with the base relocations and
// a COFF symbol table as `/debug:symtab` writes it.
//
// In the link pipeline's terms, an output section is one of lld-link's
// partial sections (a full COFF section name such as .text$mn, with its
// kind), and a segment is one PE section: the partial sections whose names
// share the part before the first '$', ordered by full name.
type Exe struct {
	// Faults plants the writer's seeded defects (fault-injection tests
	// only; the zero value plants none).
	Faults fault.Set
}

var _ link.Platform = Exe{}

// Format implements link.Platform.
func (Exe) Format() obj.Format { return obj.COFF }

// ImageBase implements link.Platform.
func (Exe) ImageBase() uint64 { return ExeImageBase }

// PageSize implements link.Platform: the section alignment.
func (Exe) PageSize() uint64 { return ExeSectionAlign }

// GOTSectionName implements link.Platform: the GOT is the .refptr cells'
// group of .rdata.
func (Exe) GOTSectionName() string { return GOTSection }

// peArch is x86_64 without GOT-load relaxation: lld-link keeps every
// .refptr cell and every load through it.
type peArch struct{ arch.X86_64 }

// Relaxation implements arch.Arch: never.
func (peArch) Relaxation(obj.RelocKind, []byte, uint64, int64) arch.Relax { return arch.RelaxNone }

// Arch implements link.Platform: x86_64 without GOT relaxation.
func (Exe) Arch() arch.Arch { return peArch{} }

// Supports implements link.Platform: every kind but Abs32S, which COFF
// objects cannot express.
func (Exe) Supports(k obj.RelocKind) bool { return k != obj.Abs32S }

// RelocName implements link.Platform: the IMAGE_REL_AMD64_* name of each
// kind (GOT kinds are REL32 against a .refptr cell).
func (Exe) RelocName(k obj.RelocKind) string {
	switch k {
	case obj.Abs64:
		return "IMAGE_REL_AMD64_ADDR64"
	case obj.Abs32:
		return "IMAGE_REL_AMD64_ADDR32"
	case obj.ImageRel32:
		return "IMAGE_REL_AMD64_ADDR32NB"
	case obj.PCRel32, obj.Branch32, obj.GOTPCRel32, obj.GOTLoad32:
		return "IMAGE_REL_AMD64_REL32"
	case obj.Abs32S:
		return "abs32s (R_X86_64_32S, no IMAGE_REL_AMD64 equivalent)"
	}
	return k.String()
}

// OutputSectionName implements link.Platform. A COFF input section keeps
// its full name: it is one of lld-link's partial sections, and the PE
// section it goes to is the part before the first '$' (SegmentKey). The
// code generator's in-memory objects carry ELF-style names (.text.f,
// .rodata, .data.g, .bss.h); like WriteObject, the platform names those by
// kind (.text, .rdata, .data, .bss).
func (Exe) OutputSectionName(s *obj.Section) string {
	n := s.Name
	if n == ".rodata" || strings.HasPrefix(n, ".rodata.") || strings.HasPrefix(n, ".text.") ||
		strings.HasPrefix(n, ".data.") || strings.HasPrefix(n, ".bss.") || n == "" {
		return kindName(s.Kind)
	}
	return n
}

// kindName is the COFF section name WriteObject gives a kind.
func kindName(k obj.SectionKind) string {
	switch k {
	case obj.Text:
		return ".text"
	case obj.Data:
		return ".data"
	case obj.BSS:
		return ".bss"
	}
	return ".rdata"
}

// peSection describes where the partial sections of one name go: the PE
// section (after lld-link's default /merge rules: .bss into .data; .00cfg,
// .didat, .edata, .idata and .xdata into .rdata), its place in lld-link's
// section order, and the place of the merged-in section inside it.
type peSection struct {
	name  string // the PE section
	class int    // order of PE sections
	sub   int    // order of merged sections inside the PE section
}

// PE section classes, in lld-link's order: the sections it creates first
// (link.exe's order), then others by name, .rsrc, then discardable ones
// (.reloc).
const (
	classText = iota
	classRData
	classBuildID
	classData
	classPData
	classOther
	classRsrc
	classReloc
)

// wellKnown maps the output section (the part before '$') to its PE
// section.
var wellKnown = map[string]peSection{
	".text":    {".text", classText, 0},
	".rdata":   {".rdata", classRData, 0},
	".00cfg":   {".rdata", classRData, 1},
	".didat":   {".rdata", classRData, 2},
	".edata":   {".rdata", classRData, 3},
	".idata":   {".rdata", classRData, 4},
	".xdata":   {".rdata", classRData, 5},
	".buildid": {".buildid", classBuildID, 0},
	".data":    {".data", classData, 0},
	".bss":     {".data", classData, 1},
	".pdata":   {".pdata", classPData, 0},
	".ctors":   {".ctors", classOther, 0},
	".dtors":   {".dtors", classOther, 1},
	".rsrc":    {".rsrc", classRsrc, 0},
	".reloc":   {".reloc", classReloc, 0},
}

// placeOf returns the PE section of an output section (a partial section
// name) and the part of its name that orders it inside the PE section.
func placeOf(s *link.Section) (peSection, string) {
	out, group := SplitGroupedName(s.Name)
	suffix := ""
	if len(out) < len(s.Name) {
		suffix = "$" + group
	}
	if p, ok := wellKnown[out]; ok {
		return p, suffix
	}
	return peSection{name: out, class: classOther, sub: 2}, s.Name
}

// orderKey packs the first 7 bytes of name into an integer that orders
// names bytewise (a shorter name first); longer names that share those 7
// bytes keep their order of first appearance.
func orderKey(name string) int {
	k := 0
	for i := 0; i < 7; i++ {
		k <<= 8
		if i < len(name) {
			k |= int(name[i])
		}
	}
	return k
}

// lastKey ranks the import thunks after every partial section of .text.
const lastKey = 1<<56 - 1

// SectionRank implements link.Platform with lld-link's order: PE sections
// in classes (.text, .rdata, .buildid, .data, .pdata, others, .rsrc,
// .reloc), merged sections in /merge order inside them, and the partial
// sections of one name by full name, bytewise (the first 7 bytes after
// the output name; see orderKey).
func (Exe) SectionRank(s *link.Section) int {
	p, key := placeOf(s)
	if s.Name == thunkSection {
		return p.class<<60 | p.sub<<56 | lastKey
	}
	return p.class<<60 | p.sub<<56 | orderKey(key)
}

// SegmentKey implements link.Platform: one segment per PE section (its
// name, and whether it holds code or writable data, as lld-link keys
// output sections by name and characteristics). The headers are their
// own segment.
func (Exe) SegmentKey(s *link.Section) string {
	if s == nil {
		return "headers"
	}
	p, _ := placeOf(s)
	return p.name + "/" + permKey(s)
}

// permKey tells apart sections of one name with different permissions.
func permKey(s *link.Section) string {
	if s.GOT {
		return "r"
	}
	switch s.Kind {
	case obj.Text:
		return "rx"
	case obj.Data, obj.BSS:
		return "rw"
	}
	return "r"
}

// SegmentStart implements link.Platform: every PE section starts on a new
// page in memory and at the next file-alignment boundary in the file.
func (Exe) SegmentStart(addr, off uint64) (uint64, uint64) {
	return alignUp(addr, ExeSectionAlign), alignUp(off, ExeFileAlign)
}

// SectionStart implements link.Platform: a partial section starts at its
// alignment in memory, and its file offset moves with its address (BSS
// takes none).
func (Exe) SectionStart(s *link.Section, addr, off uint64) (uint64, uint64) {
	a := alignUp(addr, s.Align)
	if s.Kind == obj.BSS {
		return a, off
	}
	return a, off + (a - addr)
}

// HeaderSize implements link.Platform: the DOS stub, the PE signature, the
// file and optional headers and the section table, aligned to the file
// alignment. Like lld-link, which sizes the headers before it drops empty
// sections, it counts every PE section that received an input section
// (an empty one too) and .reloc, whether or not it ends up empty.
func (p Exe) HeaderSize(l *link.Layout) uint64 {
	seen := map[string]bool{}
	for _, s := range l.Sections {
		if len(s.Chunks) > 0 {
			seen[p.SegmentKey(s)] = true
		}
	}
	return headerSize(len(seen) + 1)
}

// headerSize is SizeOfHeaders for n PE sections.
func headerSize(n int) uint64 {
	return alignUp(dosStubSize+4+fileHeaderSize+optionalHeaderSize+uint64(n)*sectionHeaderSize, ExeFileAlign)
}

func alignUp(v, a uint64) uint64 {
	if a <= 1 {
		return v
	}
	return (v + a - 1) &^ (a - 1)
}
