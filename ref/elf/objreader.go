package elf

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// ErrUnsupported is wrapped by every error about a well-formed ELF feature
// that the reference implementation does not handle (TLS
// descriptors, relocation types outside the supported set, ...), as
// opposed to a malformed file. It is link.ErrUnsupported, which the
// linker's own refusals (an indirect function's address) wrap too.
var ErrUnsupported = link.ErrUnsupported

// ErrMalformed is wrapped by every error about a file that is not a valid
// ELF64 x86_64 relocatable object (truncated, bad magic, offsets past the
// end of the file, ...).
var ErrMalformed = errors.New("malformed")

// Section types and flags not in debug/elf.
const (
	shtX86_64Unwind = 0x70000001      // SHT_X86_64_UNWIND: .eh_frame
	shfExclude      = 0x80000000      // SHF_EXCLUDE
	shfX86_64Large  = 0x10000000      // SHF_X86_64_LARGE
	maxSections     = 1 << 20         // sanity bound on e_shnum
	maxAlign        = uint64(1 << 32) // larger alignments are refused
)

// ReadObject decodes an ELF64 little-endian x86_64 ET_REL object, as
// written by WriteObject, llvm-mc or clang,
// into the neutral model. name is the file name used in messages.
//
// The reader is bounded: every offset, size and count from the file is
// checked against the file's length before it is used, and no input makes
// it panic. Allocated sections are mapped to kinds by their flags
// (SHF_EXECINSTR: Text; SHF_WRITE and SHT_NOBITS: BSS; SHF_WRITE: Data;
// otherwise ROData). Sections without SHF_ALLOC (.comment,
// .note.GNU-stack, .llvm_addrsig, debug info) are dropped with their
// relocations, as is the feature-only .note.gnu.property. .eh_frame is
// kept as CIE and FDE records (obj.Section.EHFrame). Everything else
// that the model cannot express is an error wrapping ErrUnsupported that
// names the file, section, offset and feature: section groups (COMDAT),
// TLS, init/fini arrays, SHT_REL, common symbols (SHN_COMMON;
// compile with -fno-common), IFUNC and unique symbols, and relocation types
// other than R_X86_64_{NONE,64,32,32S,PC32,PLT32,GOTPCREL,GOTPCRELX,
// REX_GOTPCRELX}.
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

type reader struct {
	name string
	data []byte
	// shtab is the section header table, decoded on use (sh) rather than
	// copied; nsh is the number of sections.
	shtab []byte
	nsh   int
	shoff uint64 // file offset of the section header table
	// shstr is the section name table once read (haveShstr), shstrndx
	// its index; secName gives the names from it on use.
	shstr     strTable
	shstrndx  int
	haveShstr bool
	// deferred is an error found in the symbol table that is reported
	// only if the relocations give no more precise one.
	deferred error
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

// secName returns the name of section i: read checks that every name
// offset lies inside the section name table, which ends with a NUL. Before
// the table is read, it is ".shstrtab" for the table itself, else empty.
func (r *reader) secName(i int) string {
	if !r.haveShstr {
		if i == r.shstrndx {
			return ".shstrtab"
		}
		return ""
	}
	s, _ := r.shstr.at(uint64(binary.LittleEndian.Uint32(r.shtab[i*shdrSize:])))
	return s
}

// sh decodes section header i (0 <= i < r.nsh).
func (r *reader) sh(i int) elf.Section64 {
	le := binary.LittleEndian
	p := r.shtab[i*shdrSize : (i+1)*shdrSize]
	return elf.Section64{
		Name: le.Uint32(p[0:]), Type: le.Uint32(p[4:]), Flags: le.Uint64(p[8:]),
		Addr: le.Uint64(p[16:]), Off: le.Uint64(p[24:]), Size: le.Uint64(p[32:]),
		Link: le.Uint32(p[40:]), Info: le.Uint32(p[44:]), Addralign: le.Uint64(p[48:]),
		Entsize: le.Uint64(p[56:]),
	}
}

// shType returns the type of section i alone (sh decodes all of the
// header).
func (r *reader) shType(i int) elf.SectionType {
	return elf.SectionType(binary.LittleEndian.Uint32(r.shtab[i*shdrSize+4:]))
}

// bytesAt returns data[off:off+size] or an error when it is out of range.
func (r *reader) bytesAt(what string, off, size uint64) ([]byte, error) {
	n := uint64(len(r.data))
	if off > n || size > n-off {
		return nil, r.errorf("%s: range [%#x, +%#x) past the end of the file (size %#x)", what, off, size, n)
	}
	return r.data[off : off+size], nil
}

// tableData returns the bytes of section i, a table of entSize-byte
// entries (a symbol or relocation table), after checking its sh_entsize
// and that its size is a whole number of entries.
func (r *reader) tableData(i int, entSize uint64) ([]byte, error) {
	h := r.sh(i)
	if h.Entsize != entSize {
		return nil, r.errorf("section %s: entry size %d (want %d)", r.secName(i), h.Entsize, entSize)
	}
	if h.Size%entSize != 0 {
		return nil, r.errorf("section %s: size %d is not a multiple of %d", r.secName(i), h.Size, entSize)
	}
	return r.sectionData(i)
}

// sectionData returns the contents of section i (nil for NOBITS).
func (r *reader) sectionData(i int) ([]byte, error) {
	h := r.sh(i)
	if elf.SectionType(h.Type) == elf.SHT_NOBITS {
		return nil, nil
	}
	n := uint64(len(r.data))
	if h.Off > n || h.Size > n-h.Off {
		return r.bytesAt("section "+r.secName(i), h.Off, h.Size) // the error
	}
	return r.data[h.Off : h.Off+h.Size], nil
}

// stringTable returns the contents of section i as a string table, as
// ld.lld 16 (llvm::object::ELFFile::getStringTable) requires one: of type
// SHT_STRTAB, not empty, and ending with a NUL byte. what names its use in
// messages ("section name table", "string table of .symtab").
func (r *reader) stringTable(i int, what string) (strTable, error) {
	h := r.sh(i)
	where := fmt.Sprintf("%s (section %d, header at offset %#x)", what, i, r.shoff+uint64(i)*shdrSize)
	if t := elf.SectionType(h.Type); t != elf.SHT_STRTAB {
		return strTable{}, r.errorf("%s: sh_type %v, want SHT_STRTAB", where, t)
	}
	b, err := r.sectionData(i)
	if err != nil {
		return strTable{}, err
	}
	if len(b) == 0 {
		return strTable{}, r.errorf("%s: empty (sh_size 0)", where)
	}
	if b[len(b)-1] != 0 {
		return strTable{}, r.errorf("%s: not NUL-terminated (last byte at offset %#x is %#x)", where, h.Off+h.Size-1, b[len(b)-1])
	}
	return newStrTable(b), nil
}

// strTable is a string table converted to a string once, so that names are
// substrings of it rather than one allocation each.
type strTable struct {
	b []byte
	s string
}

func newStrTable(b []byte) strTable { return strTable{b: b, s: string(b)} }

// at returns the NUL-terminated string at off; an offset past the end is
// the empty string only when it is 0.
func (t strTable) at(off uint64) (string, bool) {
	if off >= uint64(len(t.b)) {
		return "", off == 0
	}
	n := bytes.IndexByte(t.b[off:], 0)
	if n < 0 {
		return "", false
	}
	return t.s[off : off+uint64(n)], true
}

// relocWhere and symWhere build the location part of an error message;
// they run only when an error is reported.
func relocWhere(sec string, j int, off uint64) string {
	return fmt.Sprintf("section %s: reloc %d at offset %#x", sec, j, off)
}

func symWhere(k int, name string) string {
	return fmt.Sprintf("symbol %d %q", k, name)
}

func (r *reader) read() (*obj.Object, error) {
	le := binary.LittleEndian
	d := r.data
	if len(d) < ehdrSize {
		return nil, r.errorf("file of %d bytes is too short for an ELF header", len(d))
	}
	if IsArchive(d) {
		return nil, r.unsupported("a static archive where a relocatable object is read: archives are linked by elf.LinkFiles and linkcheck link -linker ref, not supported here")
	}
	if string(d[:4]) != elf.ELFMAG {
		return nil, r.errorf("not an ELF file (bad magic)")
	}
	// ld.lld refuses a class or data encoding that is neither 32 nor 64
	// bits, little nor big endian, as a corrupted file.
	if c := d[elf.EI_CLASS]; c != byte(elf.ELFCLASS32) && c != byte(elf.ELFCLASS64) {
		return nil, r.errorf("e_ident[EI_CLASS] (offset %#x) is %d: invalid file class", elf.EI_CLASS, c)
	}
	if e := d[elf.EI_DATA]; e != byte(elf.ELFDATA2LSB) && e != byte(elf.ELFDATA2MSB) {
		return nil, r.errorf("e_ident[EI_DATA] (offset %#x) is %d: invalid data encoding", elf.EI_DATA, e)
	}
	if elf.Class(d[elf.EI_CLASS]) != elf.ELFCLASS64 {
		return nil, r.unsupported("ELF class %v (want ELFCLASS64)", elf.Class(d[elf.EI_CLASS]))
	}
	if elf.Data(d[elf.EI_DATA]) != elf.ELFDATA2LSB {
		return nil, r.unsupported("ELF data encoding %v (want ELFDATA2LSB)", elf.Data(d[elf.EI_DATA]))
	}
	if t := elf.Type(le.Uint16(d[16:])); t != elf.ET_REL {
		return nil, r.unsupported("ELF type %v (want ET_REL, a relocatable object)", t)
	}
	if m := elf.Machine(le.Uint16(d[18:])); m != elf.EM_X86_64 {
		return nil, r.unsupported("machine %v (want EM_X86_64)", m)
	}
	shoff := le.Uint64(d[40:])
	shentsize := le.Uint16(d[58:])
	shnum := uint64(le.Uint16(d[60:]))
	shstrndx := uint32(le.Uint16(d[62:]))
	if shoff == 0 {
		return nil, r.errorf("no section header table")
	}
	if shentsize != shdrSize {
		return nil, r.errorf("section header size %d (want %d)", shentsize, shdrSize)
	}
	// Extended numbering: section 0 holds the real count and string table index.
	if _, err := r.bytesAt("section header 0", shoff, shdrSize); err != nil {
		return nil, err
	}
	if shnum == 0 {
		shnum = le.Uint64(d[shoff+32:])
	}
	if shstrndx == uint32(elf.SHN_XINDEX) {
		shstrndx = le.Uint32(d[shoff+40:])
	}
	if shnum == 0 || shnum > maxSections {
		return nil, r.errorf("section count %d out of range", shnum)
	}
	tab, err := r.bytesAt("section header table", shoff, shnum*shdrSize)
	if err != nil {
		return nil, err
	}
	r.shtab, r.nsh, r.shoff = tab, int(shnum), shoff
	// Section names.
	if uint64(shstrndx) >= shnum || shstrndx == 0 {
		return nil, r.errorf("section name table index %d out of range (%d sections)", shstrndx, shnum)
	}
	r.shstrndx = int(shstrndx)
	shstr, err := r.stringTable(int(shstrndx), fmt.Sprintf("section name table (e_shstrndx %d)", shstrndx))
	if err != nil {
		return nil, err
	}
	// The table ends with a NUL: every offset inside it starts a
	// terminated name, which secName finds when it is needed.
	for i := range r.nsh {
		nameOff := binary.LittleEndian.Uint32(r.shtab[i*shdrSize:])
		if nameOff != 0 && uint64(nameOff) >= uint64(len(shstr.b)) { // as shstr.at fails
			return nil, r.errorf("section %d: name offset %#x out of range or unterminated", i, nameOff)
		}
	}
	r.shstr, r.haveShstr = shstr, true

	o := &obj.Object{Name: r.name}
	// Sizes for one allocation each of sections, their bytes and their
	// relocations: only ranges inside the file count, so that a hostile
	// header cannot make the reader allocate more than a few times the
	// file's size; what does not fit in a slab is allocated on its own.
	nsec, dataBytes, nrel := 0, uint64(0), uint64(0)
	for i := 1; i < r.nsh; i++ {
		h := r.sh(i)
		inFile := h.Off <= uint64(len(d)) && h.Size <= uint64(len(d))-h.Off
		switch typ := elf.SectionType(h.Type); {
		case typ == elf.SHT_RELA:
			if inFile {
				nrel += h.Size / relaSize
			}
		case elf.SectionFlag(h.Flags)&elf.SHF_ALLOC != 0:
			nsec++
			if typ != elf.SHT_NOBITS && inFile {
				dataBytes += h.Size
			}
		}
	}
	dataBytes = min(dataBytes, uint64(len(d)))
	nrel = min(nrel, uint64(len(d))/relaSize)
	secSlab := make([]obj.Section, nsec)
	o.Sections = make([]*obj.Section, 0, nsec)
	dataSlab := make([]byte, 0, dataBytes)
	relSlab := make([]obj.Reloc, 0, nrel)
	groupOf, err := r.comdatGroups()
	if err != nil {
		return nil, err
	}
	// secIndex maps ELF section indexes to model indexes (-1: dropped).
	secIndex := make([]int32, shnum)
	symtab := -1
	for i := range r.nsh {
		secIndex[i] = -1
		if i == 0 {
			continue
		}
		h := r.sh(i)
		typ := elf.SectionType(h.Type)
		flags := elf.SectionFlag(h.Flags)
		switch typ {
		case elf.SHT_SYMTAB:
			if symtab >= 0 {
				return nil, r.unsupported("section %s: a second symbol table", r.secName(i))
			}
			symtab = i
			continue
		case elf.SHT_GROUP:
			continue // read by comdatGroups
		case elf.SHT_DYNSYM, elf.SHT_DYNAMIC:
			return nil, r.unsupported("section %s: dynamic linking sections in a relocatable object", r.secName(i))
		}
		if flags&elf.SHF_GROUP != 0 {
			if _, ok := groupOf[i]; !ok && flags&elf.SHF_ALLOC != 0 && flags&shfExclude == 0 {
				return nil, r.errorf("section %s: SHF_GROUP but in no section group", r.secName(i))
			}
		}
		if flags&elf.SHF_ALLOC == 0 || flags&shfExclude != 0 {
			continue // .comment, .note.GNU-stack, .llvm_addrsig, debug info, relocation sections
		}
		name := r.secName(i)
		if flags&elf.SHF_LINK_ORDER != 0 && h.Link != 0 && uint64(h.Link) < shnum {
			if lf := elf.SectionFlag(r.sh(int(h.Link)).Flags); lf&elf.SHF_MERGE != 0 {
				// ld.lld: "a section .lo with SHF_LINK_ORDER should not
				// refer a non-regular section".
				return nil, r.unsupported("section %s: SHF_LINK_ORDER section linked to the merge section %s is not supported (ld.lld refuses it too)", name, r.secName(int(h.Link)))
			}
		}
		if flags&elf.SHF_TLS != 0 && (flags&elf.SHF_EXECINSTR != 0 || typ != elf.SHT_PROGBITS && typ != elf.SHT_NOBITS) {
			return nil, r.unsupported("section %s: thread-local %v section that is executable or not PROGBITS/NOBITS is not supported", name, typ)
		}
		switch typ {
		case elf.SHT_PROGBITS, elf.SHT_NOBITS:
		case elf.SHT_NOTE:
			if name == ".note.gnu.property" {
				continue // CET feature flags only; dropping them is safe
			}
			if flags&(elf.SHF_WRITE|elf.SHF_EXECINSTR) != 0 {
				return nil, r.unsupported("section %s: writable or executable note section is not supported", name)
			}
		case shtX86_64Unwind:
			if name != ".eh_frame" {
				return nil, r.unsupported("section %s: SHT_X86_64_UNWIND section not named .eh_frame is not supported", name)
			}
		case elf.SHT_INIT_ARRAY, elf.SHT_FINI_ARRAY, elf.SHT_PREINIT_ARRAY:
			// Kept as data under their name (.init_array, .init_array.N,
			// ...), from which the linker knows the output type.
			if flags&elf.SHF_WRITE == 0 {
				return nil, r.unsupported("section %s: read-only %v is not supported", name, typ)
			}
		default:
			return nil, r.unsupported("section %s: allocated section of type %v is not supported", name, typ)
		}
		var s *obj.Section
		if len(o.Sections) < len(secSlab) {
			s = &secSlab[len(o.Sections)]
		} else {
			s = new(obj.Section)
		}
		// The section is zero: set its fields one by one, a plain store
		// first. (A whole-struct store reads the old pointers first while
		// the collector marks, and a read is the first touch of a fresh
		// page: the kernel maps its zero page, then copies it on the
		// write, with a TLB flush on every core.)
		s.Size, s.Note, s.TLS = h.Size, typ == elf.SHT_NOTE, flags&elf.SHF_TLS != 0
		s.Name = name
		if g, ok := groupOf[i]; ok {
			s.Group = g
		}
		if (typ == elf.SHT_INIT_ARRAY || typ == elf.SHT_FINI_ARRAY || typ == elf.SHT_PREINIT_ARRAY) && ArraySectionType(name) != typ {
			s.ArrayType = uint32(typ) // the name does not say it (.init)
		}
		switch {
		case name == ".eh_frame" && (typ == elf.SHT_PROGBITS || typ == shtX86_64Unwind):
			// Call frame information, whatever its flags: ld.lld
			// treats a section by this name as CIE and FDE records
			// and writes one read-only .eh_frame.
			if flags&elf.SHF_TLS != 0 {
				return nil, r.unsupported("section %s: thread-local .eh_frame is not supported", name)
			}
			s.Kind, s.EHFrame = obj.ROData, true
		case flags&elf.SHF_EXECINSTR != 0 && typ == elf.SHT_NOBITS && h.Size == 0:
			// An empty executable NOBITS section: an empty section
			// (written as PROGBITS).
			s.Kind, s.Writable = obj.Text, flags&elf.SHF_WRITE != 0
		case flags&elf.SHF_EXECINSTR != 0 && typ == elf.SHT_NOBITS:
			// Zeros in the code segment, after the code, as ld.lld
			// places them.
			if flags&elf.SHF_WRITE != 0 {
				return nil, r.unsupported("section %s: non-empty writable executable SHT_NOBITS section is not supported", name)
			}
			s.Kind, s.Exec, s.ReadOnly = obj.BSS, true, true
		case flags&elf.SHF_EXECINSTR != 0:
			s.Kind, s.Writable = obj.Text, flags&elf.SHF_WRITE != 0
		case flags&elf.SHF_WRITE != 0 && typ == elf.SHT_NOBITS:
			s.Kind = obj.BSS
		case typ == elf.SHT_NOBITS:
			s.Kind, s.ReadOnly = obj.BSS, true // zeros in the read-only segment, as ld.lld places them
		case flags&elf.SHF_WRITE != 0:
			s.Kind = obj.Data
		default:
			s.Kind = obj.ROData
		}
		if typ == elf.SHT_NOBITS && s.Kind != obj.BSS && h.Size != 0 {
			return nil, r.unsupported("section %s: non-empty executable SHT_NOBITS section is not supported", name)
		}
		s.Align = h.Addralign
		if s.Align == 0 {
			s.Align = 1
		}
		if s.Align&(s.Align-1) != 0 || s.Align > maxAlign {
			return nil, r.errorf("section %s: alignment %d is not a power of two up to 2^32", name, h.Addralign)
		}
		if flags&elf.SHF_MERGE != 0 {
			s.Merge = true
			s.EntSize = h.Entsize
			if s.EntSize == 0 {
				return nil, r.errorf("section %s: SHF_MERGE with entry size 0", name)
			}
		}
		s.Strings = flags&elf.SHF_STRINGS != 0
		if typ != elf.SHT_NOBITS {
			b, err := r.sectionData(i)
			if err != nil {
				return nil, err
			}
			if len(b) > 0 {
				if uint64(len(b)) <= uint64(cap(dataSlab)-len(dataSlab)) {
					at := len(dataSlab)
					dataSlab = append(dataSlab, b...)
					s.Data = dataSlab[at:len(dataSlab):len(dataSlab)]
				} else {
					s.Data = append([]byte(nil), b...)
				}
			}
		}
		secIndex[i] = int32(len(o.Sections))
		o.Sections = append(o.Sections, s)
	}

	// Symbols.
	var symIndex []int32 // ELF symbol index -> model index (-1: dropped)
	if symtab >= 0 {
		var err error
		symIndex, err = r.readSymbols(o, symtab, secIndex)
		if err != nil {
			return nil, err
		}
	}

	// Relocations.
	for i := range r.nsh {
		typ := r.shType(i)
		if typ != elf.SHT_RELA && typ != elf.SHT_REL {
			continue
		}
		h := r.sh(i)
		if uint64(h.Info) >= shnum {
			return nil, r.errorf("section %s: target section index %d out of range", r.secName(i), h.Info)
		}
		switch tt := r.shType(int(h.Info)); {
		case h.Info == 0, int(h.Info) == i, int(h.Info) == symtab, tt == elf.SHT_NULL, tt == elf.SHT_SYMTAB, tt == elf.SHT_STRTAB, tt == elf.SHT_RELA, tt == elf.SHT_REL, tt == elf.SHT_GROUP, tt == elf.SHT_SYMTAB_SHNDX:
			// Accepting it would drop the relocations silently and link
			// a program that crashes; ld.lld refuses it too.
			return nil, r.errorf("relocation section %s has invalid sh_info (%d): it names no section of code or data", r.secName(i), h.Info)
		}
		target := secIndex[h.Info]
		if target < 0 {
			continue // relocations of a dropped section (debug info, .llvm_addrsig)
		}
		if typ == elf.SHT_REL {
			return nil, r.unsupported("section %s: SHT_REL relocations (implicit addends) are not supported on x86_64", r.secName(i))
		}
		if symtab < 0 || int(h.Link) != symtab {
			return nil, r.errorf("section %s: link %d is not the symbol table", r.secName(i), h.Link)
		}
		b, err := r.tableData(i, relaSize)
		if err != nil {
			return nil, err
		}
		s := o.Sections[target]
		if s.Kind == obj.BSS && len(b) > 0 {
			return nil, r.errorf("section %s: relocations in a SHT_NOBITS section", r.secName(i))
		}
		// The relocations go to the slab when this is the section's
		// first relocation section and they fit; the slice's capacity
		// ends with them, so a later append copies instead of
		// overwriting the next section's.
		n := len(b) / relaSize
		fromSlab := s.Relocs == nil && n <= cap(relSlab)-len(relSlab)
		slabAt := len(relSlab)
		if fromSlab {
			s.Relocs = relSlab[slabAt:slabAt]
		}
		for j := 0; j < n; j++ {
			p := b[j*relaSize:]
			off := le.Uint64(p[0:])
			info := le.Uint64(p[8:])
			addend := int64(le.Uint64(p[16:]))
			rtyp := elf.R_X86_64(elf.R_TYPE64(info))
			sym := uint64(elf.R_SYM64(info))
			var kind obj.RelocKind
			switch rtyp {
			case elf.R_X86_64_NONE:
				continue
			case elf.R_X86_64_64:
				kind = obj.Abs64
			case elf.R_X86_64_32:
				kind = obj.Abs32
			case elf.R_X86_64_32S:
				kind = obj.Abs32S
			case elf.R_X86_64_PC32:
				kind = obj.PCRel32
			case elf.R_X86_64_PLT32:
				kind = obj.Branch32
			case elf.R_X86_64_GOTPCREL:
				kind = obj.GOTPCRel32
			case elf.R_X86_64_REX_GOTPCRELX:
				kind = obj.GOTLoad32
			case elf.R_X86_64_GOTPCRELX:
				kind = obj.GOTLoad32
				// ld.lld relaxes the test and binop forms only with
				// R_X86_64_REX_GOTPCRELX; the model's GOTLoad32 is
				// both, so the others are read as loads it never
				// relaxes (G + A - P either way).
				if off >= 2 && off <= uint64(len(s.Data)) {
					if op := s.Data[off-2]; op != 0x8b && op != 0xff {
						kind = obj.GOTPCRel32
					}
				}
			default:
				k, ok := extraRelocKinds[rtyp]
				if !ok {
					return nil, r.unsupported("%s: relocation %v is not supported", relocWhere(s.Name, j, off), rtyp)
				}
				kind = k
			}
			if off > s.Size || s.Size-off < uint64(kind.Size()) {
				return nil, r.errorf("%s: %v field outside the section (size %#x)", relocWhere(s.Name, j, off), rtyp, s.Size)
			}
			if sym == 0 || sym >= uint64(len(symIndex)) {
				return nil, r.errorf("%s: %v: symbol index %d out of range", relocWhere(s.Name, j, off), rtyp, sym)
			}
			mi := symIndex[sym]
			if mi < 0 {
				return nil, r.unsupported("%s: %v against symbol %d, which is defined in a dropped section or is a file symbol", relocWhere(s.Name, j, off), rtyp, sym)
			}
			s.Relocs = append(s.Relocs, obj.Reloc{Offset: off, Kind: kind, Sym: int(mi), Addend: addend})
		}
		if fromSlab {
			relSlab = relSlab[:slabAt+len(s.Relocs)]
			s.Relocs = s.Relocs[:len(s.Relocs):len(s.Relocs)]
			if len(s.Relocs) == 0 {
				s.Relocs = nil
			}
		}
	}
	if r.deferred != nil {
		return nil, r.deferred
	}
	for _, s := range o.Sections {
		if !relocsSorted(s.Relocs) {
			sort.SliceStable(s.Relocs, func(a, b int) bool { return s.Relocs[a].Offset < s.Relocs[b].Offset })
		}
	}
	return o, nil
}

// extraRelocKinds are the x86_64 relocation types beyond the core ones
// that the model has kinds for.
var extraRelocKinds = map[elf.R_X86_64]obj.RelocKind{
	elf.R_X86_64_8:        obj.Abs8,
	elf.R_X86_64_16:       obj.Abs16,
	elf.R_X86_64_PC8:      obj.PCRel8,
	elf.R_X86_64_PC16:     obj.PCRel16,
	elf.R_X86_64_PC64:     obj.PCRel64,
	elf.R_X86_64_SIZE32:   obj.Size32,
	elf.R_X86_64_SIZE64:   obj.Size64,
	elf.R_X86_64_GOTOFF64: obj.GOTOff64,
	elf.R_X86_64_GOTPC32:  obj.GOTPC32,
	elf.R_X86_64_GOTPC64:  obj.GOTPC64,
	elf.R_X86_64_TPOFF32:  obj.TPOff32,
	elf.R_X86_64_GOTTPOFF: obj.GOTTPOff,
	elf.R_X86_64_TLSGD:    obj.TLSGD,
	elf.R_X86_64_TLSLD:    obj.TLSLD,
	elf.R_X86_64_DTPOFF32: obj.DTPOff32,
	elf.R_X86_64_DTPOFF64: obj.DTPOff64,
}

// elfRelocTypes names each kind by its ELF type (the inverse of the
// reader's mapping; GOTLoad32 is R_X86_64_REX_GOTPCRELX).
var elfRelocTypes = func() map[obj.RelocKind]elf.R_X86_64 {
	m := map[obj.RelocKind]elf.R_X86_64{
		obj.Abs64: elf.R_X86_64_64, obj.Abs32: elf.R_X86_64_32, obj.Abs32S: elf.R_X86_64_32S,
		obj.PCRel32: elf.R_X86_64_PC32, obj.Branch32: elf.R_X86_64_PLT32,
		obj.GOTPCRel32: elf.R_X86_64_GOTPCREL, obj.GOTLoad32: elf.R_X86_64_REX_GOTPCRELX,
	}
	for t, k := range extraRelocKinds {
		m[k] = t
	}
	return m
}()

func relocsSorted(rs []obj.Reloc) bool {
	for i := 1; i < len(rs); i++ {
		if rs[i].Offset < rs[i-1].Offset {
			return false
		}
	}
	return true
}

// readSymbols decodes the symbol table at section index st into o.Symbols
// and returns the map from ELF symbol indexes to model indexes.
func (r *reader) readSymbols(o *obj.Object, st int, secIndex []int32) ([]int32, error) {
	le := binary.LittleEndian
	h := r.sh(st)
	name := r.secName(st)
	b, err := r.tableData(st, symSize)
	if err != nil {
		return nil, err
	}
	if uint64(h.Link) >= uint64(r.nsh) || elf.SectionType(r.sh(int(h.Link)).Type) != elf.SHT_STRTAB {
		return nil, r.errorf("section %s: link %d is not a string table", name, h.Link)
	}
	strs, err := r.stringTable(int(h.Link), "string table of "+name)
	if err != nil {
		return nil, err
	}
	n := len(b) / symSize
	// sh_info is the index of the first non-local symbol: ld.lld refuses
	// one outside [1, n] and a symbol on the wrong side of it.
	firstGlobal := uint64(h.Info)
	if firstGlobal == 0 || firstGlobal > uint64(n) {
		return nil, r.errorf("section %s (header at offset %#x): sh_info %d (the first non-local symbol) out of range [1, %d]",
			name, r.shoff+uint64(st)*shdrSize, h.Info, n)
	}
	if bind := elf.ST_BIND(b[4]); bind != elf.STB_LOCAL {
		return nil, r.errorf("symbol 0 (at offset %#x): binding %v, want STB_LOCAL (the null symbol)", h.Off+4, bind)
	}
	// Extended section indexes, if any.
	var shndxTab []byte
	for i := range r.nsh {
		if r.shType(i) == elf.SHT_SYMTAB_SHNDX && int(r.sh(i).Link) == st {
			if shndxTab, err = r.sectionData(i); err != nil {
				return nil, err
			}
		}
	}
	symIndex := make([]int32, n)
	symSlab := make([]obj.Symbol, max(n-1, 0))
	o.Symbols = make([]*obj.Symbol, 0, max(n-1, 0))
	if n > 0 {
		symIndex[0] = -1
	}
	for k := 1; k < n; k++ {
		symIndex[k] = -1
		p := b[k*symSize:]
		nameOff := le.Uint32(p[0:])
		info := p[4]
		shndx := uint32(le.Uint16(p[6:]))
		value := le.Uint64(p[8:])
		size := le.Uint64(p[16:])
		bind := elf.ST_BIND(info)
		typ := elf.ST_TYPE(info)
		sname, ok := strs.at(uint64(nameOff))
		if !ok {
			return nil, r.errorf("symbol %d (at offset %#x): name offset %#x out of range or unterminated (string table of %d bytes)",
				k, h.Off+uint64(k)*symSize, nameOff, len(strs.b))
		}
		switch local := bind == elf.STB_LOCAL; {
		case uint64(k) < firstGlobal && !local:
			return nil, r.errorf("%s (at offset %#x): binding %v before %s's sh_info %d (the first non-local symbol)",
				symWhere(k, sname), h.Off+uint64(k)*symSize+4, bind, name, firstGlobal)
		case uint64(k) >= firstGlobal && local:
			return nil, r.errorf("%s (at offset %#x): STB_LOCAL at or after %s's sh_info %d (the first non-local symbol)",
				symWhere(k, sname), h.Off+uint64(k)*symSize+4, name, firstGlobal)
		}
		// The reserved range is that of st_shndx itself: an index read
		// from .symtab_shndx (SHN_XINDEX) is a real section index, which
		// may be SHN_LORESERVE or more in an object of that many sections.
		reserved := shndx >= uint32(elf.SHN_LORESERVE) && shndx <= uint32(elf.SHN_HIRESERVE) &&
			shndx != uint32(elf.SHN_XINDEX) && shndx != uint32(elf.SHN_ABS) && shndx != uint32(elf.SHN_COMMON)
		ext := false // shndx came from .symtab_shndx: a section index, whatever its value
		if shndx == uint32(elf.SHN_XINDEX) {
			if uint64(len(shndxTab)) < uint64(k+1)*4 {
				return nil, r.errorf("%s: SHN_XINDEX without an extended index", symWhere(k, sname))
			}
			shndx = le.Uint32(shndxTab[k*4:])
			if shndx == uint32(elf.SHN_UNDEF) {
				return nil, r.errorf("%s: extended section index 0", symWhere(k, sname))
			}
			ext = true
		}
		sym := &symSlab[len(o.Symbols)]
		// Field by field, a plain store first (see the sections' slab).
		sym.Value, sym.Size, sym.Visibility = value, size, obj.Visibility(p[5]&3)
		sym.Section, sym.Bind, sym.Kind = 0, 0, 0 // a dropped STT_FILE leaves its slot to the next symbol
		sym.Name = sname
		switch typ {
		case elf.STT_FILE:
			if o.File == "" {
				o.File = sname
			}
			continue
		case elf.STT_NOTYPE:
			sym.Kind = obj.SymNone
		case elf.STT_FUNC:
			sym.Kind = obj.SymFunc
		case elf.STT_OBJECT:
			sym.Kind = obj.SymData
		case elf.STT_SECTION:
			sym.Kind = obj.SymSection
		case elf.STT_TLS:
			sym.Kind = obj.SymTLS
		case elf.STT_COMMON:
			if shndx != uint32(elf.SHN_COMMON) {
				return nil, r.unsupported("%s: STT_COMMON symbol outside SHN_COMMON is not supported", symWhere(k, sname))
			}
			sym.Kind = obj.SymData
		case elf.STT_GNU_IFUNC:
			if shndx == uint32(elf.SHN_UNDEF) || shndx == uint32(elf.SHN_ABS) {
				return nil, r.unsupported("%s: undefined or absolute indirect function (STT_GNU_IFUNC) is not supported", symWhere(k, sname))
			}
			sym.Kind = obj.SymIFunc
		default:
			return nil, r.unsupported("%s: symbol type %v is not supported", symWhere(k, sname), typ)
		}
		switch bind {
		case elf.STB_LOCAL:
			sym.Bind = obj.Local
		case elf.STB_GLOBAL:
			sym.Bind = obj.Global
		case elf.STB_WEAK:
			sym.Bind = obj.Weak
		default:
			return nil, r.unsupported("%s: symbol binding %v is not supported", symWhere(k, sname), bind)
		}
		if at := strings.IndexByte(sname, '@'); at >= 0 && bind != elf.STB_LOCAL {
			// A symbol version in the name. Without a version script
			// ld.lld resolves NAME@@VER (the default version) as NAME
			// and writes it as NAME; NAME@VER stays a name of its own
			// that ld.lld writes as NAME, which the model cannot say.
			if !strings.HasPrefix(sname[at:], "@@") || at+2 == len(sname) {
				return nil, r.unsupported("%s: non-default symbol version (NAME@VER) is not supported", symWhere(k, sname))
			}
			sym.Name = sname[:at]
		}
		switch {
		case reserved:
			return nil, r.unsupported("%s: reserved section index %#x", symWhere(k, sname), shndx)
		case !ext && shndx == uint32(elf.SHN_UNDEF):
			if bind == elf.STB_LOCAL {
				return nil, r.errorf("%s: undefined local symbol", symWhere(k, sname))
			}
			sym.Section = obj.Undef
		case !ext && shndx == uint32(elf.SHN_ABS):
			sym.Section = obj.Abs
		case !ext && shndx == uint32(elf.SHN_COMMON):
			// A common symbol: its own BSS section COMMON (st_value is
			// the alignment), which the linker merges with the other
			// objects' commons and definitions of the name (obj.Section.Common).
			if bind == elf.STB_LOCAL {
				return nil, r.errorf("%s: local common symbol", symWhere(k, sname))
			}
			align := value
			if align == 0 {
				align = 1
			}
			if align&(align-1) != 0 || align > maxAlign {
				return nil, r.errorf("%s: common symbol alignment %d is not a power of two up to 2^32", symWhere(k, sname), value)
			}
			if sym.Kind == obj.SymNone {
				sym.Kind = obj.SymData
			}
			sym.Section, sym.Value = len(o.Sections), 0
			o.Sections = append(o.Sections, &obj.Section{Name: "COMMON", Kind: obj.BSS, Align: align, Size: size, Common: true})
		case uint64(shndx) >= uint64(r.nsh):
			return nil, r.errorf("%s: section index %d out of range", symWhere(k, sname), shndx)
		default:
			mi := secIndex[shndx]
			if mi < 0 {
				continue // defined in a dropped section (debug info); relocations against it are refused
			}
			sym.Section = int(mi)
			sec := o.Sections[mi]
			if value > sec.Size {
				return nil, r.errorf("%s: value %#x past the end of section %s (size %#x)", symWhere(k, sname), value, sec.Name, sec.Size)
			}
			if typ == elf.STT_SECTION {
				sym.Name = sec.Name
			}
		}
		if sym.Bind == obj.Local {
			sym.Visibility = obj.VisDefault // meaningless for a local; ld.lld writes STV_DEFAULT
		}
		if typ == elf.STT_SECTION && (sym.Section < 0 || sym.Bind != obj.Local) {
			return nil, r.errorf("%s: section symbol not local or not in a section", symWhere(k, sname))
		}
		symIndex[k] = int32(len(o.Symbols))
		o.Symbols = append(o.Symbols, sym)
	}
	return symIndex, nil
}

// comdatGroups reads every SHT_GROUP section and returns, for each member
// section's index, the signature of its group: the name of the group's
// symbol (sh_link: the symbol table, sh_info: the symbol). A group whose
// flag word is not GRP_COMDAT (plain groups, which ld.lld does not
// deduplicate) maps its members to the empty signature.
func (r *reader) comdatGroups() (map[int]string, error) {
	le := binary.LittleEndian
	var groups map[int]string
	for i := 1; i < r.nsh; i++ {
		if r.shType(i) != elf.SHT_GROUP {
			continue
		}
		h := r.sh(i)
		name := r.secName(i)
		b, err := r.tableData(i, 4)
		if err != nil {
			return nil, err
		}
		if len(b) < 4 {
			return nil, r.errorf("section %s: empty section group", name)
		}
		flag := le.Uint32(b)
		if flag&^1 != 0 {
			return nil, r.unsupported("section %s: section group flags %#x are not supported", name, flag)
		}
		sig := ""
		if flag == 1 {
			if uint64(h.Link) >= uint64(r.nsh) || elf.SectionType(r.sh(int(h.Link)).Type) != elf.SHT_SYMTAB {
				return nil, r.errorf("section %s: link %d is not the symbol table", name, h.Link)
			}
			st := r.sh(int(h.Link))
			syms, err := r.tableData(int(h.Link), symSize)
			if err != nil {
				return nil, err
			}
			if h.Info == 0 || uint64(h.Info) >= uint64(len(syms)/symSize) {
				return nil, r.errorf("section %s: signature symbol %d out of range", name, h.Info)
			}
			if uint64(st.Link) >= uint64(r.nsh) {
				return nil, r.errorf("section %s: symbol table has no string table", name)
			}
			strData, err := r.sectionData(int(st.Link))
			if err != nil {
				return nil, err
			}
			p := syms[uint64(h.Info)*symSize:]
			s, ok := newStrTable(strData).at(uint64(le.Uint32(p)))
			if !ok {
				return nil, r.errorf("section %s: signature name out of range", name)
			}
			if elf.ST_TYPE(p[4]) == elf.STT_SECTION {
				// The signature is the name of the section the symbol is in.
				if k := uint64(le.Uint16(p[6:])); k < uint64(r.nsh) {
					s = r.secName(int(k))
				}
			}
			if s == "" {
				return nil, r.errorf("section %s: empty group signature", name)
			}
			sig = s
		}
		if groups == nil {
			groups = make(map[int]string)
		}
		for j := 4; j+4 <= len(b); j += 4 {
			m := le.Uint32(b[j:])
			if m == 0 || uint64(m) >= uint64(r.nsh) || int(m) == i {
				return nil, r.errorf("section %s: member %d out of range", name, m)
			}
			groups[int(m)] = sig
		}
	}
	return groups, nil
}
