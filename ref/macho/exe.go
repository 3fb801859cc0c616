package macho

import (
	"sort"
	"strings"

	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Layout constants of Mach-O executables, as ld64.lld 16 chooses them for
// `-arch x86_64 -platform_version macos 11.0 11.0`.
const (
	// ExeImageBase is the address of the file's first byte: __TEXT starts
	// right after the 4 GiB __PAGEZERO.
	ExeImageBase = 0x100000000
	// ExePageSize is x86_64's page: every segment starts on one, in memory
	// and in the file.
	ExePageSize = 0x1000
	// HeaderPad is the room ld64.lld leaves after the load commands
	// (-headerpad's default).
	HeaderPad = 32
)

// Segment names of an executable, in ld64.lld's order.
const (
	segPageZero  = "__PAGEZERO"
	segText      = "__TEXT"
	segDataConst = "__DATA_CONST"
	segData      = "__DATA"
	segLinkEdit  = "__LINKEDIT"
)

// GOTSection is the output section of the GOT: "__DATA_CONST,__got".
const GOTSection = segDataConst + ",__got"

// Exe is the link.Platform of Mach-O x86_64 executables (MH_EXECUTE, PIE)
// as ld64.lld 16 writes them for `-arch x86_64 -platform_version macos
// 11.0 11.0 -e __start` with no dylibs: __PAGEZERO; __TEXT holding the
// Mach header, the load commands and 32 bytes of header pad, then
// __text, then the other __TEXT sections (__cstring, __const,
// __literals, ...) in order of first appearance; __DATA_CONST (__got,
// __const, others); __DATA (__data and the others, zerofill sections
// last); __LINKEDIT (rebase opcodes, export trie, function starts, data
// in code, symbol table, indirect symbols, strings). Every segment starts
// on a page in memory and in the file and its sizes are whole pages, but
// __LINKEDIT's.
//
// Output sections are named "SEGMENT,section". Input sections keep their
// Mach-O names, with ld64.lld's renames of __DATA sections that are
// read-only after relocation into __DATA_CONST (__DATA,__const becomes
// __DATA_CONST,__const); 4-, 8- and 16-byte literal sections go to
// __TEXT,__literals (written as one section, as ld64.lld's). The code
// generator's in-memory objects (ELF-style names) are named by kind, as
// WriteObject would write them.
type Exe struct {
	// Faults plants the writer's seeded defects (fault-injection tests
	// only).
	Faults fault.Set
}

var (
	_ link.Platform           = Exe{}
	_ link.SlotRelaxer        = Exe{}
	_ link.LastFirstScanner   = Exe{}
	_ link.EmptySectionKeeper = Exe{}
)

// Format implements link.Platform.
func (Exe) Format() obj.Format { return obj.MachO }

// ImageBase implements link.Platform.
func (Exe) ImageBase() uint64 { return ExeImageBase }

// PageSize implements link.Platform.
func (Exe) PageSize() uint64 { return ExePageSize }

// GOTSectionName implements link.Platform.
func (Exe) GOTSectionName() string { return GOTSection }

// KeepsEmptySections implements link.EmptySectionKeeper: ld64.lld keeps an
// output section whose inputs are all empty, at the address it would
// start at, with its header, and the segment it opens.
func (Exe) KeepsEmptySections() bool { return true }

// ScansRelocsLastFirst implements link.LastFirstScanner: ld64.lld gives
// GOT entries in the order of a Mach-O object's relocation table, which
// lists each section's relocations by descending address (assemblers, and
// WriteObject, write it so; ReadObject sorts them ascending).
func (Exe) ScansRelocsLastFirst() bool { return true }

// RelaxOnlyWithoutSlot implements link.SlotRelaxer: ld64.lld turns a
// X86_64_RELOC_GOT_LOAD's movq into a leaq only when the symbol has no
// GOT entry, which an X86_64_RELOC_GOT reference anywhere gives it.
func (Exe) RelaxOnlyWithoutSlot() bool { return true }

// machoArch is x86_64 as ld64.lld links it: the only GOT load it relaxes
// is `movq x@GOTPCREL(%rip), r` (to leaq), and gaps between atoms in code
// are zeros.
type machoArch struct{ arch.X86_64 }

// Relaxation implements arch.Arch: the movq form only.
func (machoArch) Relaxation(k obj.RelocKind, code []byte, off uint64, a int64) arch.Relax {
	if how := (arch.X86_64{}).Relaxation(k, code, off, a); how == arch.RelaxMovToLea {
		return how
	}
	return arch.RelaxNone
}

// CodeFill implements arch.Arch: ld64.lld leaves gaps between atoms zero.
func (machoArch) CodeFill() byte { return 0 }

// Arch implements link.Platform.
func (Exe) Arch() arch.Arch { return machoArch{} }

// Supports implements link.Platform: what an x86_64 Mach-O object can
// express (Abs32, Abs32S and ImageRel32 cannot be: the image lies above 4
// GiB and has no image-relative fields).
func (Exe) Supports(k obj.RelocKind) bool {
	switch k {
	case obj.Abs64, obj.PCRel32, obj.Branch32, obj.GOTPCRel32, obj.GOTLoad32:
		return true
	}
	return false
}

// RelocName implements link.Platform: the X86_64_RELOC_* name of each
// kind.
func (Exe) RelocName(k obj.RelocKind) string {
	switch k {
	case obj.Abs64:
		return "X86_64_RELOC_UNSIGNED"
	case obj.Abs32, obj.Abs32S:
		return "X86_64_RELOC_UNSIGNED (4 bytes)"
	case obj.PCRel32:
		return "X86_64_RELOC_SIGNED"
	case obj.Branch32:
		return "X86_64_RELOC_BRANCH"
	case obj.GOTPCRel32:
		return "X86_64_RELOC_GOT"
	case obj.GOTLoad32:
		return "X86_64_RELOC_GOT_LOAD"
	case obj.ImageRel32:
		return "IMAGE_REL_AMD64_ADDR32NB"
	}
	return k.String()
}

// renames are ld64.lld's default section renames for an executable with
// __DATA_CONST (macOS 10.15 and later).
var renames = map[string]string{
	"__DATA,__got":            "__DATA_CONST,__got",
	"__DATA,__const":          "__DATA_CONST,__const",
	"__DATA,__cfstring":       "__DATA_CONST,__cfstring",
	"__DATA,__mod_init_func":  "__DATA_CONST,__mod_init_func",
	"__DATA,__mod_term_func":  "__DATA_CONST,__mod_term_func",
	"__DATA,__nl_symbol_ptr":  "__DATA_CONST,__nl_symbol_ptr",
	"__DATA,__objc_classlist": "__DATA_CONST,__objc_classlist",
	"__DATA,__objc_nlclslist": "__DATA_CONST,__objc_nlclslist",
	"__DATA,__objc_catlist":   "__DATA_CONST,__objc_catlist",
	"__DATA,__objc_nlcatlist": "__DATA_CONST,__objc_nlcatlist",
	"__DATA,__objc_protolist": "__DATA_CONST,__objc_protolist",
	"__DATA,__objc_imageinfo": "__DATA_CONST,__objc_imageinfo",
	"__TEXT,__StaticInit":     "__TEXT,__text",
	"__IMPORT,__pointers":     "__DATA_CONST,__nl_symbol_ptr",
}

// ld64.lld's one section of 4-, 8- and 16-byte literals, __literals, is
// 16-byte aligned and holds the distinct 16-byte literals, then the 8-byte
// ones, then the 4-byte ones, each in order of first appearance. The
// pipeline makes one output section of them, with a deduplicated chunk per
// literal size in order of first appearance; SectionStart puts the chunks
// in ld64.lld's order.
const (
	literalsSection = "__TEXT,__literals"
	literalsAlign   = 16
)

// isLiteralSection reports whether a Mach-O input section name is a
// literal section that ld64.lld puts in __literals.
func isLiteralSection(name string) bool {
	switch name {
	case "__TEXT,__literal4", "__TEXT,__literal8", "__TEXT,__literal16":
		return true
	}
	return false
}

// OutputSectionName implements link.Platform: a Mach-O input section
// ("SEGMENT,section", as ReadObject names it) keeps its name but for
// ld64.lld's renames; any other name (the code generator's in-memory
// objects, ELF-style) is named by kind as WriteObject writes it: code in
// __TEXT,__text, NUL-terminated mergeable strings in __TEXT,__cstring,
// other read-only data in __TEXT,__const, or __DATA_CONST,__const when it
// holds relocations, writable data in __DATA,__data, zeros in
// __DATA,__bss.
func (Exe) OutputSectionName(s *obj.Section) string {
	n := s.Name
	if strings.IndexByte(n, ',') > 0 && !strings.HasPrefix(n, ".") {
		if isLiteralSection(n) {
			return literalsSection
		}
		if r, ok := renames[n]; ok {
			return r
		}
		return n
	}
	switch s.Kind {
	case obj.Text:
		return "__TEXT,__text"
	case obj.ROData:
		switch {
		case len(s.Relocs) > 0:
			return "__DATA_CONST,__const"
		case s.Merge && s.Strings && s.EntSize == 1 && len(s.Data) > 0 && s.Data[len(s.Data)-1] == 0:
			return "__TEXT,__cstring"
		}
		return "__TEXT,__const"
	case obj.Data:
		return "__DATA,__data"
	}
	return "__DATA,__bss"
}

// splitName splits an output section's name into segment and section.
func splitName(name string) (seg, sect string) {
	if i := strings.IndexByte(name, ','); i >= 0 {
		return name[:i], name[i+1:]
	}
	return segData, name
}

// segmentOrder is ld64.lld's order of segments; others come between
// __DATA and __LINKEDIT.
func segmentOrder(seg string) int {
	switch seg {
	case segPageZero:
		return 0
	case segText:
		return 1
	case segDataConst:
		return 2
	case segData:
		return 3
	case segLinkEdit:
		return 6
	}
	return 4
}

// SectionRank implements link.Platform with ld64.lld's order: segments
// (__TEXT, __DATA_CONST, __DATA, others), and inside a segment __text
// first in __TEXT; __got, then __const, first in the data segments;
// zerofill sections last; the others in order of first appearance (the
// pipeline's order for equal ranks).
func (Exe) SectionRank(s *link.Section) int {
	seg, sect := splitName(s.Name)
	r := segmentOrder(seg) * 16
	switch {
	case s.Kind == obj.BSS:
		return r + 15
	case seg == segText && sect == "__text":
		return r
	case (seg == segData || seg == segDataConst) && sect == "__got":
		return r
	case (seg == segData || seg == segDataConst) && sect == "__const":
		return r + 2
	}
	return r + 4
}

// SegmentKey implements link.Platform: the segment's name; the headers
// are in __TEXT.
func (Exe) SegmentKey(s *link.Section) string {
	if s == nil {
		return segText
	}
	seg, _ := splitName(s.Name)
	return seg
}

// SegmentStart implements link.Platform: the next page, in memory and in
// the file.
func (Exe) SegmentStart(addr, off uint64) (uint64, uint64) {
	return alignUp(addr, ExePageSize), alignUp(off, ExePageSize)
}

// SectionStart implements link.Platform: the section's alignment, with the
// file offset advancing with the address (zerofill sections, last in
// their segment, take no file space).
func (Exe) SectionStart(s *link.Section, addr, off uint64) (uint64, uint64) {
	align := max(s.Align, 1)
	if s.Name == literalsSection {
		align = literalsAlign
		orderLiterals(s)
	}
	a := alignUp(addr, align)
	if s.Kind == obj.BSS {
		return a, off
	}
	return a, off + (a - addr)
}

// orderLiterals lays out the chunks of __literals as ld64.lld does: the
// 16-byte literals first, then the 8-byte, then the 4-byte ones (a chunk's
// literal size is told by its alignment, which the assemblers make the
// literal size), each at its alignment, and sets the section's size. The
// chunks keep their indexes, which placements refer to; only their offsets
// change. It runs before any address in the section is assigned.
func orderLiterals(s *link.Section) {
	idx := make([]int, len(s.Chunks))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s.Chunks[idx[a]].Align > s.Chunks[idx[b]].Align })
	var off uint64
	for _, i := range idx {
		c := &s.Chunks[i]
		off = alignUp(off, max(c.Align, 1))
		c.Off = off
		off += c.Size
	}
	s.Size = off
}

// HeaderSize implements link.Platform: the Mach header, the load commands
// and ld64.lld's 32 bytes of header pad.
func (Exe) HeaderSize(l *link.Layout) uint64 {
	return machHeaderSize + uint64(loadCommandsSize(l)) + HeaderPad
}
