package macho

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"sort"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// ErrUnsupported is wrapped by every error of ReadObject about a
// well-formed Mach-O feature that the reference implementation does not
// handle (thread-local variables, constructors, symbol stubs, common
// symbols, ...), as opposed to a malformed file.
var ErrUnsupported = errors.New("unsupported")

// ErrMalformed is wrapped by every error of ReadObject about a file that
// is not a valid little-endian 64-bit x86_64 MH_OBJECT (truncated, offsets
// past the end of the file, indexes out of range, ...).
var ErrMalformed = errors.New("malformed")

// Mach-O constants used only by the reader (debug/macho has few of them).
const (
	magic64LE            = 0xfeedfacf // MH_MAGIC_64 read little-endian
	magic64BE            = 0xcffaedfe // MH_CIGAM_64: a big-endian file
	magic32LE            = 0xfeedface
	magic32BE            = 0xcefaedfe
	magicFat             = 0xcafebabe // read little-endian from a big-endian fat header
	magicFatLE           = 0xbebafeca
	cpuTypeX86_64        = 0x01000007
	lcSegment            = 0x1
	lcSymtab             = 0x2
	lcSegment64          = 0x19
	sectionTypeMask      = 0xff
	s4ByteLiterals       = 0x3
	s8ByteLiterals       = 0x4
	sLiteralPointers     = 0x5
	sNonLazyPointers     = 0x6
	sLazyPointers        = 0x7
	sSymbolStubs         = 0x8
	sModInitFuncPointers = 0x9
	sModTermFuncPointers = 0xa
	sCoalesced           = 0xb
	sGBZerofill          = 0xc
	sInterposing         = 0xd
	s16ByteLiterals      = 0xe
	sDtraceDOF           = 0xf
	sLazyDylibPointers   = 0x10
	sThreadLocalRegular  = 0x11
	sThreadLocalInitPtrs = 0x15
	sInitFuncOffsets     = 0x16
	sAttrDebug           = 0x02000000
	sectionAttrsUsr      = 0xff000000 // SECTION_ATTRIBUTES_USR
	nStab                = 0xe0
	nPext                = 0x10
	nTypeMask            = 0x0e
	nPbud                = 0x0c
	nIndr                = 0x0a
	nAltEntry            = 0x0200
	nSymbolResolver      = 0x0100
	rScattered           = 0x80000000
	maxAlignLog2         = 15      // larger section alignments are refused
	maxZerofill          = 1 << 40 // larger zerofill sections are refused
)

// X86_64 relocation types (debug/macho's RelocTypeX86_64 values).
const (
	relUnsigned   = 0
	relSigned     = 1
	relBranch     = 2
	relGOTLoad    = 3
	relGOT        = 4
	relSubtractor = 5
	relSigned1    = 6
	relSigned2    = 7
	relSigned4    = 8
	relTLV        = 9
)

var relocTypeName = [...]string{
	relUnsigned: "X86_64_RELOC_UNSIGNED", relSigned: "X86_64_RELOC_SIGNED", relBranch: "X86_64_RELOC_BRANCH",
	relGOTLoad: "X86_64_RELOC_GOT_LOAD", relGOT: "X86_64_RELOC_GOT", relSubtractor: "X86_64_RELOC_SUBTRACTOR",
	relSigned1: "X86_64_RELOC_SIGNED_1", relSigned2: "X86_64_RELOC_SIGNED_2", relSigned4: "X86_64_RELOC_SIGNED_4",
	relTLV: "X86_64_RELOC_TLV",
}

func relocName(t uint32) string {
	if int(t) < len(relocTypeName) {
		return relocTypeName[t]
	}
	return fmt.Sprintf("relocation type %d", t)
}

// ReadObject decodes a little-endian 64-bit x86_64 Mach-O MH_OBJECT, as
// written by WriteObject, llvm-mc -triple x86_64-apple-macos11 or clang
// --target=x86_64-apple-macos11 -c, into the neutral model. name is the
// file name used in messages.
//
// The reader is bounded: every offset, size and count from the file is
// checked against the file's length before it is used; section contents
// and relocation tables may not overlap, so what it allocates is a small
// multiple of the file's size; and no input makes it panic.
//
// Sections. Each model section is named "SEGMENT,section" as Mach-O spells
// it ("__TEXT,__text", "__DATA,__const"), so that a Mach-O linker can
// place it as ld64 does. When the header has MH_SUBSECTIONS_VIA_SYMBOLS
// every section except literal sections is split into atoms, one model
// section per atom, at the address of every symbol that is not an
// N_ALT_ENTRY; an atom runs to the next one, so it keeps the padding that
// follows it, and its alignment is the section's, lowered to what its
// offset in the section guarantees (as ld64.lld does). Kinds: sections
// with S_ATTR_PURE_INSTRUCTIONS or S_ATTR_SOME_INSTRUCTIONS are Text,
// S_ZEROFILL and S_GB_ZEROFILL are BSS, S_CSTRING_LITERALS is ROData with
// Merge, Strings and EntSize 1, S_4/8/16BYTE_LITERALS are ROData with
// Merge and EntSize 4/8/16, other regular sections are ROData in __TEXT
// and __DATA_CONST and for __DATA,__const, and Data elsewhere. Debug
// sections (S_ATTR_DEBUG: DWARF, __LD,__compact_unwind) and __eh_frame are
// unwind or debug information that execution does not need: they are
// dropped with their relocations, as the ELF reader drops non-allocated
// sections.
//
// Symbols. Names lose one leading underscore ("_main" is main); a name
// without one is kept as it is. N_EXT symbols are Global, or Weak with
// N_WEAK_DEF (defined) or N_WEAK_REF (undefined), and private externs
// (N_EXT with N_PEXT) have hidden visibility; others are Local, N_PEXT
// ones included. Mach-O has no symbol sizes or types: a symbol's Size runs
// to the next symbol of its section (or the section's end), and its Kind
// is SymFunc in Text and SymData elsewhere. Debugging entries (N_STAB) are
// skipped. Private labels, local symbols whose name starts with "l" or "L"
// (ltmp0, l_switch.table.f, L_.str), start atoms like any symbol but are
// not model symbols, since ld64.lld leaves them out of the output: a
// reference to one, like a section-relative one, refers to a section
// symbol (SymSection, named as the section) of the atom it lands in,
// created for it, with the offset in the addend. Into a literal section
// it refers instead to a local label at the exact literal, named ".L" +
// section name + "." + offset in hex (".L__cstring.1f", ELF's spelling of
// an assembler-local label), so that a linker that deduplicates literals
// finds the right piece; a linker leaves such labels, like section
// symbols, out of its output.
//
// Relocations, with addends in ELF's S + A - P form: UNSIGNED of 8 bytes
// is Abs64; SIGNED, SIGNED_1, SIGNED_2 and SIGNED_4 are PCRel32; BRANCH is
// Branch32; GOT_LOAD is GOTLoad32 (extern, with no addend in the field)
// and GOT GOTPCRel32 (extern; WriteObject writes only GOT references with
// no addend, while clang also writes -1 before an immediate). A section-relative
// SIGNED_n's field is the displacement from the end of the instruction,
// n bytes after the field; the reader places its target where ld64.lld
// does, at the field's end + n + the field, even for llvm-mc's plain SIGNED
// before an immediate (a target n bytes early, then an addend that makes
// up for it). A SUBTRACTOR pair A - B + field, B extern and A extern or
// section-relative (then the field holds A's address in the object, as in
// clang's relative lookup tables, and the addend is 0), becomes a
// constant in the field when A and B lie in one atom, and PCRel32 against
// A when B lies in the atom of a 4-byte field; other pairs need a
// relocation kind the model does not have.
//
// Data in code. The LC_DATA_IN_CODE entries (jump tables in __text) become
// the DataInCode of the atoms they fall in, as ld64.lld assigns them (see
// readDataInCode); a misaligned or truncated table is malformed.
//
// Everything else is an error wrapping ErrUnsupported that names the
// file, section, offset and feature: 32-bit files, other CPUs, other file
// types, fat files, thread-local variables (sections and
// X86_64_RELOC_TLV), constructors and destructors, symbol pointer and stub
// sections, coalesced, interposing and DTrace sections, common symbols
// (compile with -fno-common), indirect and resolver symbols, 4-byte
// absolute addresses (a macOS executable lies above 4 GiB), scattered
// relocations, GOT_LOAD with an addend, GOT relocations against a private
// label outside a literal section, the SUBTRACTOR pairs
// above, section alignments above 2^15 and zerofill sections above 1 TiB
// (a writer or linker would materialize the padding or overflow).
func ReadObject(name string, data []byte) (*obj.Object, error) {
	r := &reader{name: name, data: data}
	o, err := r.read()
	if err != nil {
		return nil, err
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return o, nil
}

// reader holds the decoding state of one file.
type reader struct {
	name  string
	data  []byte
	flags uint32 // the header's
	sects []*rsect
	// syms are the nlist entries; model[i] is symbol i's index in
	// o.Symbols, -1 when it is not a model symbol (a stab, a private
	// label, or defined in a dropped section).
	syms  []rsym
	model []int
	o     *obj.Object
	// labels are the synthesized labels in literal sections, by section
	// ordinal and offset.
	labels map[[2]uint64]int
}

// rsect is one Mach-O section header and what the reader made of it.
type rsect struct {
	seg, sect, full       string
	addr, size            uint64
	off, align            uint32
	reloff, nreloc, flags uint32
	drop                  bool
	kind                  obj.SectionKind
	merge, strings        bool
	entSize               uint64
	data                  []byte // nil for zerofill and dropped sections
	atoms                 []ratom
}

// ratom is one atom of a section: [start, end) in section offsets, its
// index in o.Sections and its section symbol (-1 until one is needed).
type ratom struct {
	start, end uint64
	model      int
	secSym     int
}

// rsym is one nlist_64 entry.
type rsym struct {
	name  string
	typ   uint8
	sect  uint8
	desc  uint16
	value uint64
}

// private reports whether s is a private label: a local symbol, defined
// in a section, whose name starts with "l" or "L" (ltmp0, l_switch.table,
// L_.str), which ld64.lld leaves out of the output's symbol table.
func (s *rsym) private() bool {
	return s.typ&(nStab|nExt) == 0 && s.typ&nTypeMask == nSect && s.name != "" && (s.name[0] == 'l' || s.name[0] == 'L')
}

func (r *reader) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", r.name, ErrMalformed, fmt.Sprintf(format, args...))
}

func (r *reader) unsupported(format string, args ...any) error {
	return &featureError{r.name + ": " + fmt.Sprintf(format, args...)}
}

// featureError is an error about an unsupported feature; it matches
// ErrUnsupported under errors.Is and reads without a suffix.
type featureError struct{ msg string }

func (e *featureError) Error() string        { return e.msg }
func (e *featureError) Is(target error) bool { return target == ErrUnsupported }

// bytesAt returns data[off:off+size] or an error when it is out of range.
func (r *reader) bytesAt(what string, off, size uint64) ([]byte, error) {
	n := uint64(len(r.data))
	if off > n || size > n-off {
		return nil, r.errorf("%s: range [%#x, +%#x) past the end of the file (size %#x)", what, off, size, n)
	}
	return r.data[off : off+size], nil
}

// cstr returns the NUL-terminated string at the start of b (all of b when
// it has no NUL).
func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func (r *reader) read() (*obj.Object, error) {
	le := binary.LittleEndian
	d := r.data
	if len(d) < 4 {
		return nil, r.errorf("file of %d bytes is too short for a Mach-O header", len(d))
	}
	switch m := le.Uint32(d); m {
	case magic64LE:
	case magic64BE:
		return nil, r.unsupported("big-endian Mach-O file")
	case magic32LE, magic32BE:
		return nil, r.unsupported("32-bit Mach-O file (want 64-bit x86_64)")
	case magicFat, magicFatLE:
		return nil, r.unsupported("universal (fat) file: extract the x86_64 object with lipo first")
	default:
		return nil, r.errorf("not a Mach-O file (bad magic %#x)", m)
	}
	if len(d) < headerSize {
		return nil, r.errorf("file of %d bytes is too short for a Mach-O header", len(d))
	}
	if cpu := le.Uint32(d[4:]); cpu != cpuTypeX86_64 {
		return nil, r.unsupported("CPU type %#x (want x86_64, %#x)", cpu, cpuTypeX86_64)
	}
	if ft := le.Uint32(d[12:]); ft != mhObject {
		return nil, r.unsupported("file type %d (want MH_OBJECT, a relocatable object)", ft)
	}
	ncmds := uint64(le.Uint32(d[16:]))
	sizeofcmds := uint64(le.Uint32(d[20:]))
	r.flags = le.Uint32(d[24:])
	cmds, err := r.bytesAt("load commands", headerSize, sizeofcmds)
	if err != nil {
		return nil, err
	}
	if ncmds > sizeofcmds/8 {
		return nil, r.errorf("%d load commands do not fit in %d bytes", ncmds, sizeofcmds)
	}
	var symtab []byte // the LC_SYMTAB command
	var dice []byte   // the LC_DATA_IN_CODE command
	var diceAt uint64 // its offset in the file
	off := uint64(0)
	for i := uint64(0); i < ncmds; i++ {
		if sizeofcmds-off < 8 {
			return nil, r.errorf("load command %d at offset %#x: past the end of the load commands", i, headerSize+off)
		}
		cmd, size := le.Uint32(cmds[off:]), uint64(le.Uint32(cmds[off+4:]))
		if size < 8 || size > sizeofcmds-off {
			return nil, r.errorf("load command %d at offset %#x: size %d out of range", i, headerSize+off, size)
		}
		c := cmds[off : off+size]
		switch cmd {
		case lcSegment:
			return nil, r.unsupported("load command %d: LC_SEGMENT (32-bit segment)", i)
		case lcSegment64:
			if err := r.segment(i, headerSize+off, c); err != nil {
				return nil, err
			}
		case lcSymtab:
			if symtab != nil {
				return nil, r.errorf("load command %d: a second LC_SYMTAB", i)
			}
			if size < symtabCmdSize {
				return nil, r.errorf("load command %d: LC_SYMTAB of %d bytes (want %d)", i, size, symtabCmdSize)
			}
			symtab = c
		case lcDataInCode:
			if dice != nil {
				return nil, r.errorf("load command %d at offset %#x: a second LC_DATA_IN_CODE", i, headerSize+off)
			}
			if size < linkEditDataCmdSize {
				return nil, r.errorf("load command %d at offset %#x: LC_DATA_IN_CODE of %d bytes (want %d)", i, headerSize+off, size, linkEditDataCmdSize)
			}
			dice, diceAt = c, headerSize+off
		}
		// Other commands (LC_BUILD_VERSION, LC_DYSYMTAB, LC_LINKER_OPTION,
		// ...) do not change what the object defines.
		off += size
	}
	if err := r.checkRanges(); err != nil {
		return nil, err
	}
	if symtab != nil {
		if err := r.readSymbols(symtab); err != nil {
			return nil, err
		}
	}
	r.makeAtoms()
	r.buildObject()
	if dice != nil {
		if err := r.readDataInCode(dice, diceAt); err != nil {
			return nil, err
		}
	}
	for _, s := range r.sects {
		if !s.drop {
			if err := r.readRelocs(s); err != nil {
				return nil, err
			}
		}
	}
	for _, s := range r.o.Sections {
		sortRelocs(s.Relocs)
	}
	return r.o, nil
}

// diceEntrySize is the size of a data_in_code_entry: offset (4 bytes),
// length (2) and kind (2).
const diceEntrySize = 8

// isCode reports whether ld64.lld treats s as a code section (its
// isCodeSection): a regular section whose only user attribute is
// S_ATTR_PURE_INSTRUCTIONS, or __TEXT,__textcoal_nt or __TEXT,__StaticInit.
func (s *rsect) isCode() bool {
	if s.flags&sectionTypeMask != sRegular {
		return false
	}
	if s.flags&sectionAttrsUsr == sAttrPureInstructions {
		return true
	}
	return s.seg == "__TEXT" && (s.sect == "__textcoal_nt" || s.sect == "__StaticInit")
}

// readDataInCode decodes the LC_DATA_IN_CODE command c, found at file
// offset at, into the DataInCode of the atoms the entries fall in. An
// entry's offset is an address in the object. As ld64.lld does, each atom
// of a code section takes the entries, in address order, from the first
// at or after its start while they end by its end; the others (in data
// sections, or across an atom's end) are dropped.
func (r *reader) readDataInCode(c []byte, at uint64) error {
	le := binary.LittleEndian
	off, size := uint64(le.Uint32(c[8:])), uint64(le.Uint32(c[12:]))
	if off%4 != 0 {
		return r.errorf("LC_DATA_IN_CODE at offset %#x: table offset %#x is not 4-byte aligned", at, off)
	}
	if size%diceEntrySize != 0 {
		return r.errorf("LC_DATA_IN_CODE at offset %#x: table size %#x is not a multiple of %d", at, size, diceEntrySize)
	}
	b, err := r.bytesAt(fmt.Sprintf("LC_DATA_IN_CODE at offset %#x: table", at), off, size)
	if err != nil {
		return err
	}
	entries := make([]obj.DataRange, size/diceEntrySize)
	for k := range entries {
		e := b[k*diceEntrySize:]
		entries[k] = obj.DataRange{Offset: uint64(le.Uint32(e)), Size: uint64(le.Uint16(e[4:])), Kind: le.Uint16(e[6:])}
	}
	slices.SortStableFunc(entries, func(a, b obj.DataRange) int { return cmp.Compare(a.Offset, b.Offset) })
	for _, s := range r.sects {
		if s.drop || !s.isCode() {
			continue
		}
		for _, a := range s.atoms {
			begin, end := s.addr+a.start, s.addr+a.end
			k, _ := slices.BinarySearchFunc(entries, begin, func(e obj.DataRange, t uint64) int { return cmp.Compare(e.Offset, t) })
			m := r.o.Sections[a.model]
			for ; k < len(entries) && entries[k].Offset+entries[k].Size <= end; k++ {
				e := entries[k]
				e.Offset -= begin
				m.DataInCode = append(m.DataInCode, e)
			}
		}
	}
	return nil
}

// segment decodes the section headers of the LC_SEGMENT_64 command c,
// found at file offset at.
func (r *reader) segment(i, at uint64, c []byte) error {
	le := binary.LittleEndian
	if len(c) < segmentCmdSize {
		return r.errorf("load command %d at offset %#x: LC_SEGMENT_64 of %d bytes", i, at, len(c))
	}
	nsects := uint64(le.Uint32(c[64:]))
	if nsects > uint64(len(c)-segmentCmdSize)/sectionHdrSize {
		return r.errorf("load command %d at offset %#x: %d sections do not fit in a command of %d bytes", i, at, nsects, len(c))
	}
	for k := uint64(0); k < nsects; k++ {
		h := c[segmentCmdSize+k*sectionHdrSize:]
		s := &rsect{
			sect: cstr(h[0:16]), seg: cstr(h[16:32]),
			addr: le.Uint64(h[32:]), size: le.Uint64(h[40:]),
			off: le.Uint32(h[48:]), align: le.Uint32(h[52:]),
			reloff: le.Uint32(h[56:]), nreloc: le.Uint32(h[60:]), flags: le.Uint32(h[64:]),
		}
		s.full = s.seg + "," + s.sect
		if err := r.classify(s); err != nil {
			return err
		}
		r.sects = append(r.sects, s)
	}
	return nil
}

// classify decides what becomes of section s: dropped, refused, or a kind.
func (r *reader) classify(s *rsect) error {
	typ := s.flags & sectionTypeMask
	if s.flags&sAttrDebug != 0 || s.seg == "__DWARF" || s.sect == "__eh_frame" {
		s.drop = true // debug and unwind information
		return nil
	}
	if s.align > maxAlignLog2 {
		return r.unsupported("section %s: alignment 2^%d is larger than 2^%d, the largest supported", s.full, s.align, maxAlignLog2)
	}
	if s.addr+s.size < s.addr {
		return r.errorf("section %s: address %#x + size %#x overflows", s.full, s.addr, s.size)
	}
	switch typ {
	case sRegular:
		switch {
		case s.flags&(sAttrPureInstructions|sAttrSomeInstructions) != 0:
			s.kind = obj.Text
		case s.seg == "__TEXT" || s.seg == "__DATA_CONST" || s.full == "__DATA,__const":
			s.kind = obj.ROData
		default:
			s.kind = obj.Data
		}
	case sZerofill, sGBZerofill:
		s.kind = obj.BSS
	case sCstringLiterals:
		s.kind, s.merge, s.strings, s.entSize = obj.ROData, true, true, 1
	case s4ByteLiterals, s8ByteLiterals, s16ByteLiterals:
		s.kind, s.merge = obj.ROData, true
		s.entSize = map[uint32]uint64{s4ByteLiterals: 4, s8ByteLiterals: 8, s16ByteLiterals: 16}[typ]
		if s.size%s.entSize != 0 {
			return r.errorf("section %s: size %#x of a %d-byte literal section is not a multiple of %d", s.full, s.size, s.entSize, s.entSize)
		}
	case sLiteralPointers:
		return r.unsupported("section %s: literal pointer section (S_LITERAL_POINTERS) is not supported", s.full)
	case sNonLazyPointers, sLazyPointers, sLazyDylibPointers, sSymbolStubs:
		return r.unsupported("section %s: symbol pointer or stub section (type %#x) in an object is not supported", s.full, typ)
	case sModInitFuncPointers, sModTermFuncPointers, sInitFuncOffsets:
		return r.unsupported("section %s: constructors/destructors (section type %#x) are not supported", s.full, typ)
	case sCoalesced:
		return r.unsupported("section %s: coalesced section (S_COALESCED) is not supported", s.full)
	case sInterposing:
		return r.unsupported("section %s: interposing section is not supported", s.full)
	case sDtraceDOF:
		return r.unsupported("section %s: DTrace section is not supported", s.full)
	default:
		if typ >= sThreadLocalRegular && typ <= sThreadLocalInitPtrs {
			return r.unsupported("section %s: thread-local storage (section type %#x) is not supported", s.full, typ)
		}
		return r.errorf("section %s: unknown section type %#x", s.full, typ)
	}
	if s.kind == obj.BSS {
		if s.size > maxZerofill {
			return r.unsupported("section %s: zerofill section of %#x bytes is larger than 1 TiB", s.full, s.size)
		}
		if s.nreloc != 0 {
			return r.errorf("section %s: zerofill section with %d relocations", s.full, s.nreloc)
		}
		return nil
	}
	b, err := r.bytesAt("section "+s.full, uint64(s.off), s.size)
	if err != nil {
		return err
	}
	s.data = b
	if s.strings && len(b) > 0 && b[len(b)-1] != 0 {
		return r.errorf("section %s: C string section does not end with a NUL", s.full)
	}
	if s.nreloc > 0 {
		if _, err := r.bytesAt("section "+s.full+": relocation table", uint64(s.reloff), uint64(s.nreloc)*relocSize); err != nil {
			return err
		}
	}
	return nil
}

// checkRanges refuses files in which the contents of kept sections and
// relocation tables overlap, which no assembler writes; it bounds what the
// reader copies and decodes by the file's size.
func (r *reader) checkRanges() error {
	type rng struct {
		start, end uint64
		what       string
	}
	var rs []rng
	for _, s := range r.sects {
		if s.drop {
			continue
		}
		if len(s.data) > 0 {
			rs = append(rs, rng{uint64(s.off), uint64(s.off) + s.size, "section " + s.full})
		}
		if s.nreloc > 0 {
			rs = append(rs, rng{uint64(s.reloff), uint64(s.reloff) + uint64(s.nreloc)*relocSize, "relocations of " + s.full})
		}
	}
	sort.Slice(rs, func(a, b int) bool { return rs[a].start < rs[b].start })
	for i := 1; i < len(rs); i++ {
		if rs[i].start < rs[i-1].end {
			return r.errorf("%s at file offset %#x overlaps %s [%#x, %#x)", rs[i].what, rs[i].start, rs[i-1].what, rs[i-1].start, rs[i-1].end)
		}
	}
	return nil
}

// readSymbols decodes the symbol table of the LC_SYMTAB command c.
func (r *reader) readSymbols(c []byte) error {
	le := binary.LittleEndian
	symoff, nsyms := uint64(le.Uint32(c[8:])), uint64(le.Uint32(c[12:]))
	stroff, strsize := uint64(le.Uint32(c[16:])), uint64(le.Uint32(c[20:]))
	tab, err := r.bytesAt("symbol table", symoff, nsyms*nlistSize)
	if err != nil {
		return err
	}
	strs, err := r.bytesAt("string table", stroff, strsize)
	if err != nil {
		return err
	}
	str := string(strs) // names are substrings of one allocation
	r.syms = make([]rsym, nsyms)
	for k := range r.syms {
		p := tab[k*nlistSize:]
		strx := uint64(le.Uint32(p[0:]))
		if strx >= strsize && !(strx == 0 && strsize == 0) {
			return r.errorf("symbol %d: name offset %#x past the string table (size %#x)", k, strx, strsize)
		}
		name := ""
		if strsize > 0 {
			n := bytes.IndexByte(strs[strx:], 0)
			if n < 0 {
				return r.errorf("symbol %d: name at offset %#x is not NUL-terminated", k, strx)
			}
			name = str[strx : strx+uint64(n)]
		}
		r.syms[k] = rsym{name: name, typ: p[4], sect: p[5], desc: le.Uint16(p[6:]), value: le.Uint64(p[8:])}
	}
	// Check them now, so that errors come in symbol order.
	for k, s := range r.syms {
		if s.typ&nStab != 0 {
			continue
		}
		where := func() string { return fmt.Sprintf("symbol %d %q", k, s.name) }
		switch s.typ & nTypeMask {
		case nUndf:
			if s.typ&nExt == 0 {
				return r.errorf("%s: undefined local symbol", where())
			}
			if s.value != 0 {
				return r.unsupported("%s: common symbol is not supported (compile with -fno-common)", where())
			}
		case nAbs:
		case nSect:
			if s.sect == 0 || int(s.sect) > len(r.sects) {
				return r.errorf("%s: section ordinal %d out of range (%d sections)", where(), s.sect, len(r.sects))
			}
			sec := r.sects[s.sect-1]
			if !sec.drop && (s.value < sec.addr || s.value-sec.addr > sec.size) {
				return r.errorf("%s: address %#x outside section %s [%#x, %#x)", where(), s.value, sec.full, sec.addr, sec.addr+sec.size)
			}
			if s.desc&nSymbolResolver != 0 {
				return r.unsupported("%s: symbol resolver (N_SYMBOL_RESOLVER) is not supported", where())
			}
		case nIndr:
			return r.unsupported("%s: indirect symbol (N_INDR) is not supported", where())
		case nPbud:
			return r.unsupported("%s: prebound undefined symbol (N_PBUD) is not supported", where())
		default:
			return r.errorf("%s: unknown symbol type %#x", where(), s.typ)
		}
	}
	return nil
}

// defined reports whether symbol k is kept and defined in a section, and
// returns that section.
func (r *reader) defined(k int) (*rsect, bool) {
	s := &r.syms[k]
	if s.typ&nStab != 0 || s.typ&nTypeMask != nSect {
		return nil, false
	}
	sec := r.sects[s.sect-1]
	return sec, !sec.drop
}

// makeAtoms splits every kept section into atoms.
func (r *reader) makeAtoms() {
	split := make([][]uint64, len(r.sects))
	if r.flags&mhSubsectionsViaSyms != 0 {
		for k := range r.syms {
			sec, ok := r.defined(k)
			if !ok || sec.merge || r.syms[k].desc&nAltEntry != 0 {
				continue
			}
			if off := r.syms[k].value - sec.addr; off < sec.size {
				i := int(r.syms[k].sect - 1)
				split[i] = append(split[i], off)
			}
		}
	}
	for i, s := range r.sects {
		if s.drop {
			continue
		}
		pts := append(split[i], 0)
		slices.Sort(pts)
		for j, p := range pts {
			if j > 0 && p == pts[j-1] {
				continue
			}
			if n := len(s.atoms); n > 0 {
				s.atoms[n-1].end = p
			}
			s.atoms = append(s.atoms, ratom{start: p, end: s.size, secSym: -1})
		}
	}
}

// atomAt returns the index of the atom of s that holds offset off; the
// section's end belongs to its last atom.
func (s *rsect) atomAt(off uint64) int {
	i := sort.Search(len(s.atoms), func(i int) bool { return s.atoms[i].start > off })
	return max(i-1, 0)
}

// buildObject makes the model's sections (one per atom) and symbols.
func (r *reader) buildObject() {
	o := &obj.Object{Name: r.name}
	r.o = o
	natoms, dataBytes := 0, 0
	for _, s := range r.sects {
		natoms += len(s.atoms)
		dataBytes += len(s.data)
	}
	secSlab := make([]obj.Section, natoms)
	dataSlab := make([]byte, 0, dataBytes) // contents do not overlap: at most the file's size
	o.Sections = make([]*obj.Section, 0, natoms)
	for _, s := range r.sects {
		for j := range s.atoms {
			a := &s.atoms[j]
			m := &secSlab[len(o.Sections)]
			*m = obj.Section{Name: s.full, Kind: s.kind, Size: a.end - a.start,
				Merge: s.merge, Strings: s.strings, EntSize: s.entSize}
			m.Align = uint64(1) << s.align
			if a.start > 0 {
				m.Align = min(m.Align, uint64(1)<<bits.TrailingZeros64(a.start))
			}
			if s.data != nil && a.end > a.start {
				at := len(dataSlab)
				dataSlab = append(dataSlab, s.data[a.start:a.end]...)
				m.Data = dataSlab[at:len(dataSlab):len(dataSlab)]
			}
			a.model = len(o.Sections)
			o.Sections = append(o.Sections, m)
		}
	}

	// Symbol sizes run to the next symbol of the section.
	offsets := make([][]uint64, len(r.sects))
	for k := range r.syms {
		if sec, ok := r.defined(k); ok {
			i := int(r.syms[k].sect - 1)
			offsets[i] = append(offsets[i], r.syms[k].value-sec.addr)
		}
	}
	for i := range offsets {
		slices.Sort(offsets[i])
	}
	r.model = make([]int, len(r.syms))
	symSlab := make([]obj.Symbol, len(r.syms))
	o.Symbols = make([]*obj.Symbol, 0, len(r.syms))
	for k, s := range r.syms {
		r.model[k] = -1
		if s.typ&nStab != 0 {
			continue
		}
		if s.private() {
			continue // references go to the atom's section symbol or a literal's label
		}
		m := &symSlab[len(o.Symbols)]
		*m = obj.Symbol{Name: s.name, Bind: obj.Local}
		if len(m.Name) > 0 && m.Name[0] == '_' {
			m.Name = m.Name[1:]
		}
		if s.typ&nExt != 0 {
			m.Bind = obj.Global
			if (s.typ&nTypeMask == nUndf && s.desc&nWeakRef != 0) || (s.typ&nTypeMask != nUndf && s.desc&nWeakDef != 0) {
				m.Bind = obj.Weak
			}
			if s.typ&nPext != 0 {
				// A private extern is bound across the link's objects and
				// local to its output: ELF's hidden visibility.
				m.Visibility = obj.VisHidden
			}
		}
		switch s.typ & nTypeMask {
		case nUndf:
			m.Section = obj.Undef
		case nAbs:
			m.Section, m.Value = obj.Abs, s.value
		default:
			i := int(s.sect - 1)
			sec := r.sects[i]
			if sec.drop {
				continue // relocations against it are refused
			}
			off := s.value - sec.addr
			a := sec.atoms[sec.atomAt(off)]
			m.Section, m.Value = a.model, off-a.start
			next := sec.size
			offs := offsets[i]
			if j := sort.Search(len(offs), func(j int) bool { return offs[j] > off }); j < len(offs) {
				next = offs[j]
			}
			m.Size = next - off
			m.Kind = obj.SymData
			if sec.kind == obj.Text {
				m.Kind = obj.SymFunc
			}
		}
		r.model[k] = len(o.Symbols)
		o.Symbols = append(o.Symbols, m)
	}
}

// target returns the model symbol and the addend to add for a
// section-relative reference to offset off of section ordinal ord.
func (r *reader) target(ord uint32, off uint64) (sym int, addend int64) {
	s := r.sects[ord-1]
	if s.merge {
		if r.labels == nil {
			r.labels = make(map[[2]uint64]int)
		}
		key := [2]uint64{uint64(ord), off}
		if i, ok := r.labels[key]; ok {
			return i, 0
		}
		ai := s.atomAt(off)
		a := s.atoms[ai]
		i := len(r.o.Symbols)
		r.o.Symbols = append(r.o.Symbols, &obj.Symbol{Name: fmt.Sprintf(".L%s.%x", s.sect, off), Section: a.model,
			Value: off - a.start, Bind: obj.Local, Kind: obj.SymData})
		r.labels[key] = i
		return i, 0
	}
	ai := s.atomAt(off)
	a := &s.atoms[ai]
	if a.secSym < 0 {
		a.secSym = len(r.o.Symbols)
		r.o.Symbols = append(r.o.Symbols, &obj.Symbol{Name: s.full, Section: a.model, Bind: obj.Local, Kind: obj.SymSection})
	}
	return a.secSym, int64(off - a.start)
}

// rawReloc is one relocation_info entry.
type rawReloc struct {
	addr          uint32
	sym           uint32 // symbol index or section ordinal
	pcrel, extern bool
	length        uint32 // log2 of the field's size
	typ           uint32
}

func decodeReloc(p []byte) rawReloc {
	le := binary.LittleEndian
	w := le.Uint32(p[4:])
	return rawReloc{addr: le.Uint32(p), sym: w & 0xffffff, pcrel: w>>24&1 != 0, length: w >> 25 & 3,
		extern: w>>27&1 != 0, typ: w >> 28}
}

// sortRelocs sorts rs by offset. Assemblers list relocations last first,
// so a reversal usually does it.
func sortRelocs(rs []obj.Reloc) {
	asc, desc := true, true
	for i := 1; i < len(rs); i++ {
		asc = asc && rs[i-1].Offset <= rs[i].Offset
		desc = desc && rs[i-1].Offset > rs[i].Offset
	}
	switch {
	case asc:
	case desc:
		slices.Reverse(rs)
	default:
		slices.SortStableFunc(rs, func(a, b obj.Reloc) int { return cmp.Compare(a.Offset, b.Offset) })
	}
}

// readRelocs decodes the relocations of section s into its atoms.
func (r *reader) readRelocs(s *rsect) error {
	if s.nreloc == 0 {
		return nil
	}
	tab := r.data[s.reloff : uint64(s.reloff)+uint64(s.nreloc)*relocSize] // checked by classify
	n := int(s.nreloc)
	// Give each atom room for the relocations whose fields start in it,
	// in one allocation (a pair takes two entries and makes at most one).
	counts := make([]int, len(s.atoms))
	for j := 0; j < n; j++ {
		if off := uint64(binary.LittleEndian.Uint32(tab[j*relocSize:])); off < s.size {
			counts[s.atomAt(off)]++
		}
	}
	slab := make([]obj.Reloc, n)
	at := 0
	for i, c := range counts {
		if c > 0 {
			m := r.o.Sections[s.atoms[i].model]
			m.Relocs = slab[at : at : at+c]
			at += c
		}
	}
	for j := 0; j < n; j++ {
		pair, err := r.reloc(s, tab, j)
		if err != nil {
			return err
		}
		if pair {
			j++
		}
	}
	return nil
}

// referent is what a relocation refers to: a model symbol and an offset
// to add to the addend (for a private label, replaced by its atom's
// section symbol or a literal's label).
type referent struct {
	sym   int
	extra int64
}

// reloc decodes relocation j of section s's table tab, and reports
// whether it consumed the next one too (a SUBTRACTOR pair).
func (r *reader) reloc(s *rsect, tab []byte, j int) (pair bool, err error) {
	le := binary.LittleEndian
	rel := decodeReloc(tab[j*relocSize:])
	where := func() string {
		return fmt.Sprintf("section %s: reloc %d at offset %#x", s.full, j, rel.addr&^rScattered)
	}
	if rel.addr&rScattered != 0 {
		return false, r.unsupported("%s: scattered relocation is not supported on x86_64", where())
	}
	name := relocName(rel.typ)
	size := uint64(1) << rel.length
	off := uint64(rel.addr)
	if off > s.size || s.size-off < size {
		return false, r.errorf("%s: %s: %d-byte field outside the section (size %#x)", where(), name, size, s.size)
	}
	a := &s.atoms[s.atomAt(off)]
	if off+size > a.end {
		return false, r.errorf("%s: %s: field crosses the end of its atom at offset %#x", where(), name, a.end)
	}
	var field int64
	switch rel.length {
	case 2:
		field = int64(int32(le.Uint32(s.data[off:])))
	case 3:
		field = int64(le.Uint64(s.data[off:]))
	}
	m := r.o.Sections[a.model]
	at := off - a.start
	// extern resolves the symbol of an extern relocation.
	extern := func(rel rawReloc) (referent, error) {
		if uint64(rel.sym) >= uint64(len(r.syms)) {
			return referent{}, r.errorf("%s: %s: symbol index %d out of range (%d symbols)", where(), name, rel.sym, len(r.syms))
		}
		sym := &r.syms[rel.sym]
		if mi := r.model[rel.sym]; mi >= 0 {
			return referent{sym: mi}, nil
		}
		if sym.typ&nStab != 0 {
			return referent{}, r.errorf("%s: %s: against debugging symbol %d", where(), name, rel.sym)
		}
		ts := r.sects[sym.sect-1]
		if ts.drop {
			return referent{}, r.unsupported("%s: %s: against symbol %q of the dropped section %s", where(), name, sym.name, ts.full)
		}
		k, add := r.target(uint32(sym.sect), sym.value-ts.addr) // a private label
		return referent{k, add}, nil
	}
	// local resolves a section-relative reference to object address t in
	// section ordinal ord.
	local := func(ord uint32, t uint64) (referent, error) {
		if ord == 0 || uint64(ord) > uint64(len(r.sects)) {
			return referent{}, r.errorf("%s: %s: section ordinal %d out of range (%d sections)", where(), name, ord, len(r.sects))
		}
		ts := r.sects[ord-1]
		if ts.drop {
			return referent{}, r.unsupported("%s: %s: refers to the dropped section %s", where(), name, ts.full)
		}
		if t < ts.addr || t-ts.addr > ts.size {
			return referent{}, r.errorf("%s: %s: target address %#x outside section %s [%#x, %#x)", where(), name, t, ts.full, ts.addr, ts.addr+ts.size)
		}
		k, add := r.target(ord, t-ts.addr)
		return referent{k, add}, nil
	}
	rc := obj.Reloc{Offset: at}
	var ref referent
	switch rel.typ {
	case relUnsigned:
		if rel.pcrel {
			return false, r.errorf("%s: %s: pc-relative", where(), name)
		}
		if rel.length != 3 {
			return false, r.unsupported("%s: %s of %d bytes: only 8-byte absolute addresses are supported (a macOS x86_64 executable lies above 4 GiB)", where(), name, size)
		}
		rc.Kind, rc.Addend = obj.Abs64, field
		if rel.extern {
			ref, err = extern(rel)
		} else {
			ref, err = local(rel.sym, uint64(field)) // the field is the target's address
			rc.Addend = 0
		}
	case relSigned, relSigned1, relSigned2, relSigned4, relBranch:
		if !rel.pcrel || rel.length != 2 {
			return false, r.errorf("%s: %s: must be pc-relative with a 4-byte field", where(), name)
		}
		rc.Kind = obj.PCRel32
		var extra int64 // bytes of immediate after the field
		switch rel.typ {
		case relBranch:
			rc.Kind = obj.Branch32
		case relSigned1:
			extra = 1
		case relSigned2:
			extra = 2
		case relSigned4:
			extra = 4
		}
		if rel.extern {
			ref, err = extern(rel)
			rc.Addend = field - 4
		} else {
			// The field is the displacement at the object's addresses.
			ref, err = local(rel.sym, s.addr+off+4+uint64(extra)+uint64(field))
			rc.Addend = -4 - extra
		}
	case relGOTLoad, relGOT:
		if !rel.pcrel || rel.length != 2 {
			return false, r.unsupported("%s: %s: only the pc-relative 4-byte form is supported", where(), name)
		}
		if !rel.extern {
			return false, r.errorf("%s: %s: GOT relocation against a section, not a symbol", where(), name)
		}
		// GOT's field may hold an addend (-1 in clang's "cmpq $0,
		// x@GOTPCREL(%rip)", an immediate follows); GOT_LOAD's, in a movq
		// that a linker may turn into a leaq of the symbol, may not.
		rc.Kind, rc.Addend = obj.GOTPCRel32, field-4
		if rel.typ == relGOTLoad {
			if field != 0 {
				return false, r.unsupported("%s: %s with addend %d: only a GOT load that ends the instruction is supported", where(), name, field)
			}
			rc.Kind = obj.GOTLoad32
		}
		ref, err = extern(rel)
		if err == nil && ref.extra != 0 || err == nil && r.o.Symbols[ref.sym].Kind == obj.SymSection {
			return false, r.unsupported("%s: %s against a private label, which has no GOT slot of its own", where(), name)
		}
	case relSubtractor:
		return true, r.subtractor(tab, j, rel, field, m, at, a.model, where, extern, local)
	case relTLV:
		return false, r.unsupported("%s: %s (thread-local variable) is not supported", where(), name)
	default:
		return false, r.errorf("%s: unknown relocation type %d", where(), rel.typ)
	}
	if err != nil {
		return false, err
	}
	rc.Sym = ref.sym
	rc.Addend += ref.extra
	if rc.Kind.PCRelative() && (rc.Addend < -1<<31-4 || rc.Addend > 1<<31-5) {
		// The field holds the addend + 4 (or more): it must fit in 4 bytes.
		return false, r.errorf("%s: %s: addend %d out of range", where(), name, rc.Addend)
	}
	r.add(m, rc)
	return false, nil
}

// add appends rc to m and clears its field: the addend lives in the model.
func (r *reader) add(m *obj.Section, rc obj.Reloc) {
	clear(m.Data[rc.Offset : rc.Offset+uint64(rc.Kind.Size())])
	m.Relocs = append(m.Relocs, rc)
}

// subtractor decodes the SUBTRACTOR relocation j and the UNSIGNED that
// must follow it: the field at offset at of model section m (index mi)
// receives A - B + field, where B is the SUBTRACTOR's symbol and A the
// UNSIGNED's; a section-relative UNSIGNED's A is the section's byte at
// the object address the field holds (and the addend 0), as ld64.lld
// reads clang's relative lookup tables.
func (r *reader) subtractor(tab []byte, j int, rel rawReloc, field int64, m *obj.Section, at uint64, mi int,
	where func() string, extern func(rawReloc) (referent, error), local func(uint32, uint64) (referent, error)) error {
	le := binary.LittleEndian
	name := relocName(rel.typ)
	if j+1 >= len(tab)/relocSize {
		return r.errorf("%s: %s: not followed by an X86_64_RELOC_UNSIGNED", where(), name)
	}
	next := decodeReloc(tab[(j+1)*relocSize:])
	if next.typ != relUnsigned || next.addr != rel.addr || next.length != rel.length || next.pcrel || rel.pcrel || rel.length < 2 {
		return r.errorf("%s: %s: not followed by an X86_64_RELOC_UNSIGNED of the same field", where(), name)
	}
	if !rel.extern {
		return r.unsupported("%s: %s against a section, not a symbol, is not supported", where(), name)
	}
	subR, err := extern(rel)
	if err != nil {
		return err
	}
	var minR referent
	if next.extern {
		minR, err = extern(next)
	} else {
		t := uint64(field)
		if rel.length == 2 {
			t = uint64(uint32(field))
		}
		minR, err = local(next.sym, t)
		field = 0
	}
	if err != nil {
		return err
	}
	sub, minu := r.o.Symbols[subR.sym], r.o.Symbols[minR.sym]
	subV, minV := int64(sub.Value)+subR.extra, int64(minu.Value)+minR.extra
	switch {
	case sub.Section >= 0 && sub.Section == minu.Section:
		// A - B is a constant: write it and drop the pair.
		v := field + minV - subV
		if rel.length == 3 {
			le.PutUint64(m.Data[at:], uint64(v))
		} else {
			if v != int64(int32(v)) {
				return r.errorf("%s: %s: %q - %q = %d does not fit in 4 bytes", where(), name, minu.Name, sub.Name, v)
			}
			le.PutUint32(m.Data[at:], uint32(v))
		}
		return nil
	case sub.Section == mi && rel.length == 2:
		// A - B = A + (field + P - B) - P, with P - B fixed in the atom.
		rc := obj.Reloc{Offset: at, Kind: obj.PCRel32, Sym: minR.sym, Addend: field + minR.extra + int64(at) - subV}
		if rc.Addend < -1<<31-4 || rc.Addend > 1<<31-5 {
			return r.errorf("%s: %s: addend %d out of range", where(), name, rc.Addend)
		}
		r.add(m, rc)
		return nil
	}
	return r.unsupported("%s: %s pair %q - %q of %d bytes: only a difference within one atom, or a 4-byte one from a label of the field's atom, is supported",
		where(), name, minu.Name, sub.Name, uint64(1)<<rel.length)
}
