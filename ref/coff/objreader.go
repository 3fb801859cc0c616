package coff

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// ErrUnsupported is wrapped by every error about a well-formed COFF
// feature that the reference implementation does not handle (TLS,
// SECTION and SECREL relocations, common symbols, weak aliases to other
// objects' symbols, ...), as opposed to a malformed file.
var ErrUnsupported = errors.New("unsupported")

// ErrMalformed is wrapped by every error about a file that is not a valid
// x86_64 COFF object (truncated, offsets or indexes out of range, ...).
var ErrMalformed = errors.New("malformed")

// The remaining AMD64 relocation types, named in error messages.
const (
	RelAMD64Rel32_2 = 0x0006 // IMAGE_REL_AMD64_REL32_2
	RelAMD64Rel32_3 = 0x0007 // IMAGE_REL_AMD64_REL32_3
	RelAMD64Rel32_4 = 0x0008 // IMAGE_REL_AMD64_REL32_4
	RelAMD64Section = 0x000A // IMAGE_REL_AMD64_SECTION
	RelAMD64SecRel  = 0x000B // IMAGE_REL_AMD64_SECREL
	RelAMD64SecRel7 = 0x000C // IMAGE_REL_AMD64_SECREL7
	RelAMD64Token   = 0x000D // IMAGE_REL_AMD64_TOKEN
	RelAMD64SRel32  = 0x000E // IMAGE_REL_AMD64_SREL32
	RelAMD64Pair    = 0x000F // IMAGE_REL_AMD64_PAIR
	RelAMD64SSpan32 = 0x0010 // IMAGE_REL_AMD64_SSPAN32
)

var relNames = [...]string{
	"IMAGE_REL_AMD64_ABSOLUTE", "IMAGE_REL_AMD64_ADDR64", "IMAGE_REL_AMD64_ADDR32",
	"IMAGE_REL_AMD64_ADDR32NB", "IMAGE_REL_AMD64_REL32", "IMAGE_REL_AMD64_REL32_1",
	"IMAGE_REL_AMD64_REL32_2", "IMAGE_REL_AMD64_REL32_3", "IMAGE_REL_AMD64_REL32_4",
	"IMAGE_REL_AMD64_REL32_5", "IMAGE_REL_AMD64_SECTION", "IMAGE_REL_AMD64_SECREL",
	"IMAGE_REL_AMD64_SECREL7", "IMAGE_REL_AMD64_TOKEN", "IMAGE_REL_AMD64_SREL32",
	"IMAGE_REL_AMD64_PAIR", "IMAGE_REL_AMD64_SSPAN32",
}

// RelocName returns the IMAGE_REL_AMD64_* name of a relocation type.
func RelocName(typ uint16) string {
	if int(typ) < len(relNames) {
		return relNames[typ]
	}
	return fmt.Sprintf("relocation type %#x", typ)
}

// COMDAT selections (IMAGE_COMDAT_SELECT_*), the Selection byte of a
// COMDAT section's definition record.
const (
	ComdatNoDuplicates = 1 // IMAGE_COMDAT_SELECT_NODUPLICATES: a second definition is an error
	ComdatAny          = 2 // IMAGE_COMDAT_SELECT_ANY: keep one, discard the others
	ComdatSameSize     = 3 // IMAGE_COMDAT_SELECT_SAME_SIZE: keep one; sizes must match
	ComdatExactMatch   = 4 // IMAGE_COMDAT_SELECT_EXACT_MATCH: keep one; contents must match
	ComdatAssociative  = 5 // IMAGE_COMDAT_SELECT_ASSOCIATIVE: kept exactly when Associate is
	ComdatLargest      = 6 // IMAGE_COMDAT_SELECT_LARGEST: keep the largest
	ComdatNewest       = 7 // IMAGE_COMDAT_SELECT_NEWEST: refused, as lld-link and link.exe do
)

// Comdat is what the neutral model has no field for: one COMDAT section
// (IMAGE_SCN_LNK_COMDAT) of the object and how a linker selects it.
type Comdat struct {
	// Section is the index of the section in Object.Sections.
	Section int
	// Selection is one of ComdatNoDuplicates..ComdatLargest.
	Selection uint8
	// Leader is the index in Object.Symbols of the COMDAT symbol (the
	// first symbol of the section after its section symbol), whose name
	// is the key under which copies are folded; -1 for an associative
	// section.
	Leader int
	// Associate is, for ComdatAssociative, the index in Object.Sections
	// of the section this one is kept or discarded with; -1 otherwise.
	Associate int
}

// File is a COFF object as Read decodes it: the neutral model and the
// COFF facts the model does not hold.
type File struct {
	Object *obj.Object
	// SectionNumber gives, for each section of Object, its number (1-based)
	// in the COFF section table, which orders sections of the same name.
	SectionNumber []int
	// Comdats lists the object's COMDAT sections in section order.
	Comdats []Comdat
}

// SplitGroupedName splits a grouped section name (".text$mn") at its first
// '$' into the output section it belongs to (".text") and its group
// (the rest, "mn"; "" for an ungrouped name). lld-link places every input
// section in the output section named by the part before the '$' and
// orders the input sections of one output section by their full names,
// comparing bytes (".text" < ".text$" < ".text$B" < ".text$a" <
// ".text$a$b" < ".text$zz"), keeping command-line and section-table order
// among equal names.
func SplitGroupedName(name string) (output, group string) {
	if i := strings.IndexByte(name, '$'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return name, ""
}

// Section characteristics and symbol constants used by the reader.
const (
	scnTypeNoPad        = 0x00000008
	scnCntCode          = 0x00000020
	scnCntUninitialized = 0x00000080
	scnLnkInfo          = 0x00000200
	scnLnkRemove        = 0x00000800
	scnLnkComdat        = 0x00001000
	scnLnkNRelocOvfl    = 0x01000000
	scnMemExecute       = 0x20000000
	scnMemWrite         = 0x80000000

	machineAMD64 = 0x8664

	symUndefined = 0
	symDebug     = -2

	classEndOfFunction = 0xff
	classExternal      = 2
	classStatic        = 3
	classLabel         = 6
	classFunction      = 101
	classFile          = 103
	classWeakExternal  = 105

	weakNoLibrary = 1 // IMAGE_WEAK_EXTERN_SEARCH_NOLIBRARY
	weakAlias     = 3 // IMAGE_WEAK_EXTERN_SEARCH_ALIAS
)

// ReadObject decodes an x86_64 COFF relocatable object, as written by
// WriteObject, llvm-mc or clang (--target=x86_64-pc-windows-msvc or
// -windows-gnu), into the neutral model; name is the file name used in
// messages. It is Read without the COMDAT table.
func ReadObject(name string, data []byte) (*obj.Object, error) {
	f, err := Read(name, data)
	if err != nil {
		return nil, err
	}
	return f.Object, nil
}

// Read decodes an x86_64 COFF relocatable object into the neutral model
// and the COMDAT facts the model has no field for. docs/objects.md lists
// what it accepts and refuses.
//
// The reader is bounded: every count, offset and size from the file is
// checked against the file's length before it is used, allocations are a
// small multiple of the file's size, and no input makes it panic. Errors
// name the file, the file offset of the offending structure, the section
// or symbol and what is wrong, and wrap ErrMalformed or ErrUnsupported.
//
// COFF keeps addends in the relocated fields; the reader moves them into
// Reloc.Addend with ELF's S + A - P arithmetic (REL32_N: A = field - 4 -
// N) and zeroes the fields. REL32 against a pointer cell .refptr.NAME
// (see RefptrPrefix) becomes a GOT reference to NAME and the cell is
// dropped, so that Read undoes what WriteObject does.
func Read(name string, data []byte) (*File, error) {
	if bytes.HasPrefix(data, []byte(ArchiveMagic)) {
		return nil, &readError{fmt.Sprintf("%s: an archive (import library), not an object: import libraries are linked by coff.LinkFiles (ReadArchive)", name), ErrUnsupported}
	}
	r := &reader{name: name, data: data}
	f, err := r.read()
	if err != nil {
		return nil, err
	}
	if err := f.Object.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return f, nil
}

// readError is an error of the reader: its text names the place, and it
// matches ErrMalformed or ErrUnsupported under errors.Is.
type readError struct {
	msg  string
	kind error
}

func (e *readError) Error() string        { return e.msg }
func (e *readError) Is(target error) bool { return target == e.kind }

// Section states.
const (
	secKeep = iota
	secDrop // not part of the model (debug info, .drectve, discarded COMDAT)
	secCell // a pointer cell replaced by GOT references
)

// coffSection is what the reader knows of COFF section i+1.
type coffSection struct {
	name    string
	hdrOff  uint64
	flags   uint32
	size    uint64
	rawOff  uint64
	relOff  uint64 // file offset of the first real relocation record
	nrel    uint64
	kind    obj.SectionKind
	align   uint64
	state   int
	comdat  bool
	secdef  int // symbol index of its first section definition, -1
	sel     uint8
	assoc   int // for associative COMDATs: the parent's section number
	leader  int // symbol index of the COMDAT symbol, -1
	nsyms   int // regular symbols defined in it
	onlySym int // the symbol index of one of them
	hasAsc  bool
	// resolved and assocDone mark progress through resolveComdat.
	resolved, assocDone bool
	model               int // index in Object.Sections
}

// Symbol roles.
const (
	roleAux      = iota + 1 // an auxiliary record
	roleRegular             // an ordinary symbol that the model keeps
	roleSecdef              // a section definition symbol
	roleWeak                // a weak external
	roleDropped             // not in the model: a relocation against it is an error
	roleRedirect            // LLVM's .weak.NAME.default*: stands for its weak external
)

// coffSymbol is what the reader knows of one symbol-table record.
type coffSymbol struct {
	name    string
	value   uint32
	section int32
	typ     uint16
	class   uint8
	role    uint8
	used    bool   // a section symbol referenced by a relocation
	why     string // for roleDropped: why
	tag     uint32 // weak externals: the default's index; redirects: the weak's
	model   int
}

type reader struct {
	name   string
	data   []byte
	secs   []coffSection
	syms   []coffSymbol
	symOff uint64
	strs   []byte // the string table, with its size field
	strStr string
}

func (r *reader) errAt(off uint64, format string, args ...any) error {
	return &readError{fmt.Sprintf("%s: offset %#x: %s", r.name, off, fmt.Sprintf(format, args...)), ErrMalformed}
}

func (r *reader) unsupportedAt(off uint64, format string, args ...any) error {
	return &readError{fmt.Sprintf("%s: offset %#x: %s", r.name, off, fmt.Sprintf(format, args...)), ErrUnsupported}
}

// inFile reports whether [off, off+size) lies inside the file.
func (r *reader) inFile(off, size uint64) bool {
	n := uint64(len(r.data))
	return off <= n && size <= n-off
}

func (r *reader) secWhere(i int) string {
	return fmt.Sprintf("section %d (%s)", i+1, r.secs[i].name)
}

func (r *reader) symWhere(k int) string {
	return fmt.Sprintf("symbol %d (%s)", k, r.syms[k].name)
}

func (r *reader) symRecOff(k int) uint64 { return r.symOff + uint64(k)*symbolSize }

// str returns the NUL-terminated string at off in the string table;
// offset 0, an all-zero name field, is the empty name.
func (r *reader) str(off uint32) (string, bool) {
	if off == 0 {
		return "", true
	}
	if off < 4 || uint64(off) >= uint64(len(r.strs)) {
		return "", false
	}
	n := bytes.IndexByte(r.strs[off:], 0)
	if n < 0 {
		return "", false
	}
	return r.strStr[off : int(off)+n], true
}

func cstring(b []byte) string {
	if n := bytes.IndexByte(b, 0); n >= 0 {
		b = b[:n]
	}
	return string(b)
}

func (r *reader) read() (*File, error) {
	le := binary.LittleEndian
	d := r.data
	if len(d) >= 2 && d[0] == 'M' && d[1] == 'Z' {
		return nil, &readError{fmt.Sprintf("%s: offset 0x0: a PE image (MZ header), not a COFF object", r.name), ErrUnsupported}
	}
	if len(d) < fileHeaderSize {
		return nil, r.errAt(0, "file of %d bytes is too short for a COFF file header (%d bytes)", len(d), fileHeaderSize)
	}
	machine := le.Uint16(d[0:])
	nsec := uint64(le.Uint16(d[2:]))
	if machine == 0 && nsec == 0xffff {
		return nil, r.unsupportedAt(0, "an import library member or a /bigobj object (ANON_OBJECT_HEADER) is not supported")
	}
	if machine != machineAMD64 {
		return nil, r.unsupportedAt(0, "machine %#x is not supported (want IMAGE_FILE_MACHINE_AMD64, 0x8664)", machine)
	}
	r.symOff = uint64(le.Uint32(d[8:]))
	nsym := uint64(le.Uint32(d[12:]))
	optSize := uint64(le.Uint16(d[16:]))
	shOff := fileHeaderSize + optSize
	if !r.inFile(shOff, nsec*sectionHeaderSize) {
		return nil, r.errAt(shOff, "section table of %d sections runs past the end of the file (size %#x)", nsec, len(d))
	}

	// Symbol and string tables.
	if nsym > 0 {
		if r.symOff == 0 {
			return nil, r.errAt(8, "%d symbols but no symbol table pointer", nsym)
		}
		if !r.inFile(r.symOff, nsym*symbolSize) {
			return nil, r.errAt(r.symOff, "symbol table of %d symbols runs past the end of the file (size %#x)", nsym, len(d))
		}
	}
	if r.symOff != 0 {
		strOff := r.symOff + nsym*symbolSize
		if !r.inFile(strOff, 4) {
			return nil, r.errAt(strOff, "string table size runs past the end of the file (size %#x)", len(d))
		}
		size := uint64(le.Uint32(d[strOff:]))
		if size >= 4 { // smaller sizes mean an empty table, as in LLVM
			if !r.inFile(strOff, size) {
				return nil, r.errAt(strOff, "string table of %d bytes runs past the end of the file (size %#x)", size, len(d))
			}
			r.strs = d[strOff : strOff+size]
			r.strStr = string(r.strs)
		}
	}

	if err := r.readSections(shOff, int(nsec)); err != nil {
		return nil, err
	}
	if err := r.readSymbols(int(nsym)); err != nil {
		return nil, err
	}
	if err := r.resolveComdats(); err != nil {
		return nil, err
	}
	if err := r.resolveWeak(); err != nil {
		return nil, err
	}
	r.findCells()
	if err := r.scanRelocs(); err != nil {
		return nil, err
	}
	return r.build()
}

// readSections decodes the section table and checks each kept section's
// data and relocation table against the file.
func (r *reader) readSections(shOff uint64, n int) error {
	le := binary.LittleEndian
	d := r.data
	r.secs = make([]coffSection, n)
	var dataTotal, relTotal uint64
	for i := range r.secs {
		off := shOff + uint64(i)*sectionHeaderSize
		h := d[off : off+sectionHeaderSize]
		s := &r.secs[i]
		*s = coffSection{hdrOff: off, secdef: -1, leader: -1, onlySym: -1, model: -1}
		name, err := r.sectionName(off, i, h[0:8])
		if err != nil {
			return err
		}
		s.name = name
		s.size = uint64(le.Uint32(h[16:]))
		s.rawOff = uint64(le.Uint32(h[20:]))
		s.relOff = uint64(le.Uint32(h[24:]))
		s.nrel = uint64(le.Uint16(h[32:]))
		s.flags = le.Uint32(h[36:])
		s.comdat = s.flags&scnLnkComdat != 0

		switch {
		case name == ".drectve":
			if err := r.directives(i); err != nil {
				return err
			}
			s.state = secDrop
		case name == ".llvm_addrsig" || name == ".llvm.call-graph-profile",
			strings.HasPrefix(name, ".debug$"), strings.HasPrefix(name, ".debug_"),
			s.flags&scnLnkRemove != 0:
			s.state = secDrop
		case s.flags&scnLnkInfo != 0:
			s.state = secDrop // other linker information
		case name == ".tls" || strings.HasPrefix(name, ".tls$"):
			return r.unsupportedAt(off, "%s: thread-local storage is not supported", r.secWhere(i))
		case name == ".rsrc" || strings.HasPrefix(name, ".rsrc$"):
			return r.unsupportedAt(off, "%s: resources are not supported", r.secWhere(i))
		}
		if s.state == secDrop {
			continue
		}

		switch {
		case s.flags&scnCntUninitialized != 0:
			if s.flags&scnMemWrite == 0 {
				return r.unsupportedAt(off, "%s: read-only uninitialized data is not supported", r.secWhere(i))
			}
			if s.flags&(scnCntCode|scnMemExecute) != 0 {
				return r.unsupportedAt(off, "%s: executable uninitialized data is not supported", r.secWhere(i))
			}
			s.kind = obj.BSS
		case s.flags&(scnCntCode|scnMemExecute) != 0:
			s.kind = obj.Text
		case s.flags&scnMemWrite != 0:
			s.kind = obj.Data
		default:
			s.kind = obj.ROData
		}
		// Alignment as LLVM reads it: TYPE_NO_PAD means 1, field 0 means 16.
		switch shift := (s.flags >> 20) & 0xf; {
		case s.flags&scnTypeNoPad != 0:
			s.align = 1
		case shift == 0:
			s.align = 16
		default:
			s.align = 1 << (shift - 1)
		}

		if s.kind != obj.BSS && s.size > 0 {
			if !r.inFile(s.rawOff, s.size) {
				return r.errAt(off, "%s: data [%#x, +%#x) runs past the end of the file (size %#x)", r.secWhere(i), s.rawOff, s.size, len(d))
			}
			dataTotal += s.size
			if dataTotal > uint64(len(d)) {
				return r.errAt(off, "%s: section data overlaps: %d bytes in all in a file of %d", r.secWhere(i), dataTotal, len(d))
			}
		}
		if s.nrel == 0 {
			continue
		}
		if s.kind == obj.BSS {
			return r.errAt(off, "%s: relocations in an uninitialized-data section", r.secWhere(i))
		}
		if s.flags&scnLnkNRelocOvfl != 0 && s.nrel == 0xffff {
			// The real count, which includes this first record, is in
			// the first record's VirtualAddress.
			if !r.inFile(s.relOff, relocSize) {
				return r.errAt(s.relOff, "%s: relocation table runs past the end of the file", r.secWhere(i))
			}
			s.nrel = uint64(le.Uint32(d[s.relOff:]))
			if s.nrel == 0 {
				return r.errAt(s.relOff, "%s: extended relocation count 0", r.secWhere(i))
			}
			s.nrel--
			s.relOff += relocSize
		}
		if !r.inFile(s.relOff, s.nrel*relocSize) {
			return r.errAt(s.relOff, "%s: relocation table runs past the end of the file", r.secWhere(i))
		}
		relTotal += s.nrel
		if relTotal*relocSize > uint64(len(d)) {
			return r.errAt(s.relOff, "%s: relocation tables overlap: %d relocations in all in a file of %d bytes", r.secWhere(i), relTotal, len(d))
		}
	}
	return nil
}

// sectionName decodes a section header's name: inline, "/N" (decimal
// string table offset) or "//B" (base-64 offset, as LLVM writes offsets
// past 9,999,999).
func (r *reader) sectionName(off uint64, i int, field []byte) (string, error) {
	name := cstring(field)
	if !strings.HasPrefix(name, "/") {
		return name, nil
	}
	var strOff uint64
	if strings.HasPrefix(name, "//") {
		digits := name[2:]
		if digits == "" {
			return "", r.errAt(off, "section %d: bad long name %q", i+1, name)
		}
		for _, c := range []byte(digits) {
			var v uint64
			switch {
			case c >= 'A' && c <= 'Z':
				v = uint64(c - 'A')
			case c >= 'a' && c <= 'z':
				v = uint64(c-'a') + 26
			case c >= '0' && c <= '9':
				v = uint64(c-'0') + 52
			case c == '+':
				v = 62
			case c == '/':
				v = 63
			default:
				return "", r.errAt(off, "section %d: bad long name %q", i+1, name)
			}
			strOff = strOff*64 + v
		}
	} else {
		v, err := strconv.ParseUint(name[1:], 10, 32)
		if err != nil {
			return "", r.errAt(off, "section %d: bad long name %q", i+1, name)
		}
		strOff = v
	}
	if strOff > 1<<32-1 {
		return "", r.errAt(off, "section %d: long name %q: string table offset out of range", i+1, name)
	}
	s, ok := r.str(uint32(strOff))
	if !ok {
		return "", r.errAt(off, "section %d: long name %q: string table offset %#x is outside the string table (%d bytes) or unterminated", i+1, name, strOff, len(r.strs))
	}
	return s, nil
}

// directives checks a .drectve section: the directives that do not
// change what the model means are accepted (and dropped), the others are
// refused.
func (r *reader) directives(i int) error {
	s := &r.secs[i]
	if !r.inFile(s.rawOff, s.size) {
		return r.errAt(s.hdrOff, "%s: data [%#x, +%#x) runs past the end of the file (size %#x)", r.secWhere(i), s.rawOff, s.size, len(r.data))
	}
	text := string(r.data[s.rawOff : s.rawOff+s.size])
	text = strings.TrimPrefix(text, "\xef\xbb\xbf")
	for len(text) > 0 {
		text = strings.TrimLeft(text, " \t\r\n\x00")
		if text == "" {
			break
		}
		// A directive runs to the next blank outside double quotes.
		end, quoted := 0, false
		for end < len(text) {
			c := text[end]
			if c == '"' {
				quoted = !quoted
			} else if !quoted && (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == 0) {
				break
			}
			end++
		}
		dir := text[:end]
		text = text[end:]
		opt := strings.ToLower(dir)
		if len(opt) > 0 && (opt[0] == '/' || opt[0] == '-') {
			opt = opt[1:]
		}
		if k := strings.IndexByte(opt, ':'); k >= 0 {
			opt = opt[:k]
		}
		switch opt {
		case "defaultlib", "nodefaultlib", "disallowlib", "failifmismatch", "include":
			// Library search, build-configuration checks and symbol
			// retention: nothing the model represents.
		default:
			return r.unsupportedAt(s.hdrOff, "%s: linker directive %q is not supported", r.secWhere(i), dir)
		}
	}
	return nil
}

// readSymbols decodes the symbol table, its auxiliary records and the
// COMDAT definitions they hold.
func (r *reader) readSymbols(n int) error {
	le := binary.LittleEndian
	d := r.data
	r.syms = make([]coffSymbol, n)
	// pending[i] is set while COMDAT section i waits for its leader.
	pending := make([]bool, len(r.secs))
	for k := 0; k < n; k++ {
		off := r.symRecOff(k)
		p := d[off : off+symbolSize]
		sym := &r.syms[k]
		sym.model = -1
		if le.Uint32(p[0:]) == 0 {
			strOff := le.Uint32(p[4:])
			name, ok := r.str(strOff)
			if !ok {
				return r.errAt(off, "symbol %d: name offset %#x is outside the string table (%d bytes) or unterminated", k, strOff, len(r.strs))
			}
			sym.name = name
		} else {
			sym.name = cstring(p[0:8])
		}
		sym.value = le.Uint32(p[8:])
		sym.section = int32(int16(le.Uint16(p[12:])))
		sym.typ = le.Uint16(p[14:])
		sym.class = p[16]
		naux := int(p[17])
		if naux > n-1-k {
			return r.errAt(off, "%s: %d auxiliary records run past the end of the symbol table (%d symbols)", r.symWhere(k), naux, n)
		}
		for j := 1; j <= naux; j++ {
			r.syms[k+j] = coffSymbol{role: roleAux, model: -1}
		}
		aux := d[off+symbolSize : off+symbolSize*uint64(1+naux)]
		if err := r.classify(k, naux, aux, pending); err != nil {
			return err
		}
		k += naux
	}
	return nil
}

// classify sets the role of symbol k, which has naux auxiliary records.
func (r *reader) classify(k, naux int, aux []byte, pending []bool) error {
	le := binary.LittleEndian
	sym := &r.syms[k]
	off := r.symRecOff(k)
	sec := sym.section
	if sec > int32(len(r.secs)) {
		return r.errAt(off, "%s: section number %d out of range (%d sections)", r.symWhere(k), sec, len(r.secs))
	}
	if sec < symDebug {
		return r.errAt(off, "%s: reserved section number %d", r.symWhere(k), sec)
	}
	switch sym.class {
	case classFile:
		sym.role = roleDropped
		sym.why = "a file name"
		sym.name = cstring(aux)
		return nil
	case classFunction, classEndOfFunction:
		sym.role, sym.why = roleDropped, "a function boundary (.bf/.ef/.lf)"
		return nil
	case classWeakExternal:
		if naux == 0 {
			return r.errAt(off, "%s: weak external without an auxiliary record", r.symWhere(k))
		}
		if sec != symUndefined {
			return r.errAt(off, "%s: weak external with section number %d (want 0)", r.symWhere(k), sec)
		}
		sym.role = roleWeak
		sym.tag = le.Uint32(aux[0:])
		if ch := le.Uint32(aux[4:]); ch < weakNoLibrary || ch > weakAlias {
			return r.unsupportedAt(off, "%s: weak external search type %d is not supported", r.symWhere(k), ch)
		}
		if uint64(sym.tag) >= uint64(len(r.syms)) || sym.tag == uint32(k) {
			return r.errAt(off, "%s: weak external default symbol index %d out of range (%d symbols)", r.symWhere(k), sym.tag, len(r.syms))
		}
		return nil
	case classExternal, classStatic, classLabel:
	default:
		return r.unsupportedAt(off, "%s: storage class %d is not supported", r.symWhere(k), sym.class)
	}
	if sec == symDebug {
		sym.role, sym.why = roleDropped, "a debug symbol"
		return nil
	}
	if sec == symUndefined {
		if sym.class != classExternal {
			return r.errAt(off, "%s: undefined symbol of storage class %d (want external)", r.symWhere(k), sym.class)
		}
		if sym.value != 0 {
			return r.unsupportedAt(off, "%s: common symbol (size %d) is not supported (compile with -fno-common)", r.symWhere(k), sym.value)
		}
		sym.role = roleRegular
		return nil
	}
	if sec < 0 { // absolute
		sym.role = roleRegular
		return nil
	}
	si := int(sec) - 1
	s := &r.secs[si]
	// A section definition: static, value 0, type 0, with an auxiliary record.
	if sym.class == classStatic && sym.value == 0 && sym.typ == 0 && naux > 0 {
		sym.role = roleSecdef
		if s.secdef < 0 {
			s.secdef = k
			if s.comdat && s.state != secDrop {
				s.sel = aux[14]
				switch {
				case s.sel == ComdatNewest:
					return r.unsupportedAt(off, "%s: COMDAT selection IMAGE_COMDAT_SELECT_NEWEST is not supported (lld-link refuses it)", r.secWhere(si))
				case s.sel < ComdatNoDuplicates || s.sel > ComdatNewest:
					return r.errAt(off, "%s: unknown COMDAT selection %d", r.secWhere(si), s.sel)
				case s.sel == ComdatAssociative:
					s.assoc = int(le.Uint16(aux[12:]))
				default:
					pending[si] = true
				}
			}
		}
		return nil
	}
	if s.state == secDrop {
		sym.role, sym.why = roleDropped, "defined in dropped section "+s.name
		return nil
	}
	if uint64(sym.value) > s.size {
		return r.errAt(off, "%s: value %#x past the end of %s (size %#x)", r.symWhere(k), sym.value, r.secWhere(si), s.size)
	}
	sym.role = roleRegular
	if pending[si] {
		pending[si] = false
		s.leader = k
	}
	s.nsyms++
	s.onlySym = k
	return nil
}

// resolveComdats drops COMDAT sections that lld-link would never keep (no
// section definition, no leader and not associative) and associative
// sections of dropped sections, and checks associations.
func (r *reader) resolveComdats() error {
	for i := range r.secs {
		if err := r.resolveComdat(i); err != nil {
			return err
		}
	}
	for k := range r.syms {
		if sym := &r.syms[k]; sym.role == roleRegular && sym.section > 0 {
			if s := &r.secs[sym.section-1]; s.state == secDrop {
				sym.role, sym.why = roleDropped, "defined in discarded COMDAT section "+s.name
			}
		}
	}
	return nil
}

func (r *reader) resolveComdat(i int) error {
	s := &r.secs[i]
	if !s.comdat || s.state == secDrop || s.resolved {
		return nil
	}
	s.resolved = true
	if s.secdef < 0 {
		s.state = secDrop // lld-link: pending forever, discarded
		return nil
	}
	if s.sel != ComdatAssociative {
		if s.leader < 0 {
			s.state = secDrop // lld-link: "comdat section without leader and unassociated, discarding"
		}
		return nil
	}
	p := s.assoc - 1
	off := r.symRecOff(s.secdef)
	if p < 0 || p >= len(r.secs) || p == i {
		return r.errAt(off, "%s: associative COMDAT refers to section %d (of %d)", r.secWhere(i), s.assoc, len(r.secs))
	}
	if ps := &r.secs[p]; ps.comdat && ps.resolved && ps.sel == ComdatAssociative && !ps.assocDone {
		return r.errAt(off, "%s: associative COMDAT sections form a cycle", r.secWhere(i))
	}
	if err := r.resolveComdat(p); err != nil {
		return err
	}
	s.assocDone = true
	if r.secs[p].state == secDrop {
		s.state = secDrop
		return nil
	}
	r.secs[p].hasAsc = true
	return nil
}

// resolveWeak checks every weak external's default symbol. LLVM names
// the default .weak.NAME.default[.SUFFIX]; such a default, when no other
// weak external shares it, stands for its weak external in the model.
func (r *reader) resolveWeak() error {
	users := map[uint32]int{}
	for k := range r.syms {
		if w := &r.syms[k]; w.role == roleWeak {
			users[w.tag]++
		}
	}
	for k := range r.syms {
		w := &r.syms[k]
		if w.role != roleWeak {
			continue
		}
		t := &r.syms[w.tag]
		off := r.symRecOff(k)
		switch t.role {
		case roleRegular, roleRedirect:
		case roleAux:
			return r.errAt(off, "%s: weak external default symbol index %d is an auxiliary record", r.symWhere(k), w.tag)
		default:
			return r.unsupportedAt(off, "%s: weak external whose default, symbol %d (%s), is not an ordinary symbol", r.symWhere(k), w.tag, t.name)
		}
		if t.section == symUndefined {
			return r.unsupportedAt(off, "%s: weak external whose default %q is undefined (an alias to another object's symbol) is not supported", r.symWhere(k), t.name)
		}
		if users[w.tag] == 1 && strings.HasPrefix(t.name, ".weak."+w.name+".default") {
			t.role = roleRedirect
			t.tag = uint32(k)
		}
	}
	return nil
}

// findCells marks the sections that are pointer cells as WriteObject,
// clang and llvm-mc write them: 8 bytes, one ADDR64 at offset 0 with field
// 0 to NAME, one symbol .refptr.NAME at offset 0, static or the leader of
// a COMDAT, nothing associated with it. scanRelocs may still demote a
// cell referenced by anything but REL32.
func (r *reader) findCells() {
	le := binary.LittleEndian
	for i := range r.secs {
		s := &r.secs[i]
		if s.state != secKeep || s.kind == obj.Text || s.kind == obj.BSS || s.size != 8 || s.nrel != 1 || s.nsyms != 1 || s.hasAsc {
			continue
		}
		if s.comdat && s.leader != s.onlySym {
			continue
		}
		cell := &r.syms[s.onlySym]
		if cell.value != 0 || !strings.HasPrefix(cell.name, RefptrPrefix) || (cell.class != classStatic && !s.comdat) {
			continue
		}
		rel := r.data[s.relOff : s.relOff+relocSize]
		if le.Uint32(rel[0:]) != 0 || le.Uint16(rel[8:]) != RelAMD64Addr64 || le.Uint64(r.data[s.rawOff:]) != 0 {
			continue
		}
		ti := uint64(le.Uint32(rel[4:]))
		if ti >= uint64(len(r.syms)) {
			continue
		}
		t := &r.syms[ti]
		if (t.role != roleRegular && t.role != roleWeak && t.role != roleRedirect) || t.name != cell.name[len(RefptrPrefix):] {
			continue
		}
		if t.role == roleRegular && t.section > 0 && r.secs[t.section-1].state != secKeep {
			continue
		}
		s.state = secCell
	}
	// A weak external defaulting to a cell keeps the cell.
	for k := range r.syms {
		if w := &r.syms[k]; w.role == roleWeak {
			if t := &r.syms[w.tag]; t.section > 0 && r.secs[t.section-1].state == secCell {
				r.secs[t.section-1].state = secKeep
			}
		}
	}
}

// relocSym returns the symbol index of relocation j of section i after
// checking it; off is the record's file offset.
func (r *reader) relocSym(i int, j uint64, off uint64, sym uint32) error {
	if uint64(sym) >= uint64(len(r.syms)) {
		return r.errAt(off, "%s: relocation %d: symbol index %d out of range (%d symbols)", r.secWhere(i), j, sym, len(r.syms))
	}
	t := &r.syms[sym]
	switch t.role {
	case roleAux:
		return r.errAt(off, "%s: relocation %d: symbol index %d is an auxiliary record", r.secWhere(i), j, sym)
	case roleDropped:
		return r.unsupportedAt(off, "%s: relocation %d: against symbol %d (%s), which is %s", r.secWhere(i), j, sym, t.name, t.why)
	case roleSecdef:
		if r.secs[t.section-1].state == secDrop {
			return r.unsupportedAt(off, "%s: relocation %d: against the dropped section %s", r.secWhere(i), j, r.secWhere(int(t.section-1)))
		}
	}
	return nil
}

// scanRelocs checks every relocation of the kept sections and of the
// cells, marks the section symbols they use and demotes cells that are
// used other than by REL32.
func (r *reader) scanRelocs() error {
	le := binary.LittleEndian
	for i := range r.secs {
		s := &r.secs[i]
		if s.state == secDrop {
			continue
		}
		for j := uint64(0); j < s.nrel; j++ {
			off := s.relOff + j*relocSize
			p := r.data[off : off+relocSize]
			sym := le.Uint32(p[4:])
			typ := le.Uint16(p[8:])
			if err := r.relocSym(i, j, off, sym); err != nil {
				return err
			}
			t := &r.syms[sym]
			if t.role == roleSecdef {
				t.used = true
			}
			rel32 := typ >= RelAMD64Rel32 && typ <= RelAMD64Rel32_5
			if t.section > 0 {
				if c := &r.secs[t.section-1]; c.state == secCell && (!rel32 || t.role == roleSecdef) {
					c.state = secKeep
				}
			}
		}
	}
	return nil
}

// fieldSize is the width of a supported relocation's field; 0 for the
// unsupported types.
func fieldSize(typ uint16) uint64 {
	switch typ {
	case RelAMD64Addr64:
		return 8
	case RelAMD64Addr32, RelAMD64Addr32NB, RelAMD64Rel32, RelAMD64Rel32_1, RelAMD64Rel32_2, RelAMD64Rel32_3, RelAMD64Rel32_4, RelAMD64Rel32_5:
		return 4
	}
	return 0
}

// isBranch reports whether the 4-byte field at off of code is the
// displacement of a call, jmp or jcc rel32.
func isBranch(code []byte, off uint64) bool {
	if off >= 1 && (code[off-1] == 0xe8 || code[off-1] == 0xe9) {
		return true
	}
	return off >= 2 && code[off-2] == 0x0f && code[off-1]&0xf0 == 0x80
}

// isLoad reports whether the 4-byte field at off of code is the
// displacement of `mov r64, qword ptr [rip + disp]` (REX.W 8B /r, mod 00,
// r/m 101), the GOT load a linker may relax.
func isLoad(code []byte, off uint64) bool {
	return off >= 3 && code[off-3]&0xf8 == 0x48 && code[off-2] == 0x8b && code[off-1]&0xc7 == 0x05
}

// build assembles the model from what the earlier passes decided.
func (r *reader) build() (*File, error) {
	le := binary.LittleEndian
	o := &obj.Object{Name: r.name}
	f := &File{Object: o}
	// Sections, with their bytes in one slab (bounded by readSections).
	var nkeep, dataTotal, relTotal uint64
	for i := range r.secs {
		if s := &r.secs[i]; s.state == secKeep {
			nkeep++
			if s.kind != obj.BSS {
				dataTotal += s.size
			}
			relTotal += s.nrel
		}
	}
	secSlab := make([]obj.Section, nkeep)
	dataSlab := make([]byte, 0, dataTotal)
	relSlab := make([]obj.Reloc, 0, relTotal)
	o.Sections = make([]*obj.Section, 0, nkeep)
	f.SectionNumber = make([]int, 0, nkeep)
	for i := range r.secs {
		s := &r.secs[i]
		if s.state != secKeep {
			continue
		}
		ms := &secSlab[len(o.Sections)]
		*ms = obj.Section{Name: s.name, Kind: s.kind, Align: s.align, Size: s.size}
		if s.kind != obj.BSS && s.size > 0 {
			at := len(dataSlab)
			dataSlab = append(dataSlab, r.data[s.rawOff:s.rawOff+s.size]...)
			ms.Data = dataSlab[at:len(dataSlab):len(dataSlab)]
		}
		s.model = len(o.Sections)
		o.Sections = append(o.Sections, ms)
		f.SectionNumber = append(f.SectionNumber, i+1)
	}

	// Symbols, in symbol-table order.
	var nmodel int
	for k := range r.syms {
		switch sym := &r.syms[k]; sym.role {
		case roleRegular, roleWeak:
			nmodel++
		case roleSecdef:
			if sym.used {
				nmodel++
			}
		}
	}
	symSlab := make([]obj.Symbol, nmodel)
	o.Symbols = make([]*obj.Symbol, 0, nmodel)
	add := func(k int, ms obj.Symbol) {
		p := &symSlab[len(o.Symbols)]
		*p = ms
		r.syms[k].model = len(o.Symbols)
		o.Symbols = append(o.Symbols, p)
	}
	for k := range r.syms {
		sym := &r.syms[k]
		switch sym.role {
		case roleDropped:
			if sym.class == classFile && o.File == "" {
				o.File = sym.name
			}
		case roleSecdef:
			if sym.used {
				s := &r.secs[sym.section-1]
				add(k, obj.Symbol{Name: s.name, Section: s.model, Bind: obj.Local, Kind: obj.SymSection})
			}
		case roleRegular:
			if sym.section > 0 && r.secs[sym.section-1].state == secCell {
				continue
			}
			add(k, r.modelSymbol(sym))
		case roleWeak:
			t := &r.syms[sym.tag]
			ms := r.modelSymbol(t)
			ms.Name, ms.Bind = sym.name, obj.Weak
			if ms.Section == obj.Abs && ms.Value == 0 {
				ms.Section, ms.Kind = obj.Undef, obj.SymNone // unresolved: 0, as ELF's undefined weak
			}
			add(k, ms)
		}
	}
	// Redirected defaults stand for their weak external.
	for k := range r.syms {
		if sym := &r.syms[k]; sym.role == roleRedirect {
			sym.model = r.syms[sym.tag].model
		}
	}

	// Relocations.
	for i := range r.secs {
		s := &r.secs[i]
		if s.state != secKeep || s.nrel == 0 {
			continue
		}
		ms := o.Sections[s.model]
		at := len(relSlab)
		for j := uint64(0); j < s.nrel; j++ {
			off := s.relOff + j*relocSize
			p := r.data[off : off+relocSize]
			roff := uint64(le.Uint32(p[0:]))
			t := &r.syms[le.Uint32(p[4:])]
			typ := le.Uint16(p[8:])
			if typ == RelAMD64Absolute {
				continue // no-op
			}
			size := fieldSize(typ)
			if size == 0 {
				return nil, r.unsupportedAt(off, "%s: relocation %d at %#x: %s is not supported", r.secWhere(i), j, roff, RelocName(typ))
			}
			if roff > s.size || s.size-roff < size {
				return nil, r.errAt(off, "%s: relocation %d at %#x: %s field outside the section (size %#x)", r.secWhere(i), j, roff, RelocName(typ), s.size)
			}
			field := r.data[s.rawOff+roff:]
			rel := obj.Reloc{Offset: roff, Sym: t.model}
			switch typ {
			case RelAMD64Addr64:
				rel.Kind, rel.Addend = obj.Abs64, int64(le.Uint64(field))
			case RelAMD64Addr32:
				rel.Kind, rel.Addend = obj.Abs32, int64(int32(le.Uint32(field)))
			case RelAMD64Addr32NB:
				rel.Kind, rel.Addend = obj.ImageRel32, int64(int32(le.Uint32(field)))
			default: // REL32_N: S + field - (P + 4 + N)
				n := int64(typ - RelAMD64Rel32)
				rel.Addend = int64(int32(le.Uint32(field))) - 4 - n
				switch {
				case t.section > 0 && r.secs[t.section-1].state == secCell:
					cellRel := r.data[r.secs[t.section-1].relOff:]
					rel.Sym = r.syms[le.Uint32(cellRel[4:])].model
					rel.Kind = obj.GOTPCRel32
					if s.kind == obj.Text && isLoad(ms.Data, roff) {
						rel.Kind = obj.GOTLoad32
					}
				case n == 0 && s.kind == obj.Text && isBranch(ms.Data, roff):
					rel.Kind = obj.Branch32
				default:
					rel.Kind = obj.PCRel32
				}
			}
			if rel.Sym < 0 {
				return nil, r.unsupportedAt(off, "%s: relocation %d at %#x: against symbol %s, which has no place in the model", r.secWhere(i), j, roff, t.name)
			}
			relSlab = append(relSlab, rel)
		}
		ms.Relocs = relSlab[at:len(relSlab):len(relSlab)]
		// The addends now live in Addend: clear the fields (a slab
		// copy, never the caller's bytes).
		for _, rel := range ms.Relocs {
			clear(ms.Data[rel.Offset : rel.Offset+uint64(rel.Kind.Size())])
		}
		if !sort.SliceIsSorted(ms.Relocs, func(a, b int) bool { return ms.Relocs[a].Offset < ms.Relocs[b].Offset }) {
			sort.SliceStable(ms.Relocs, func(a, b int) bool { return ms.Relocs[a].Offset < ms.Relocs[b].Offset })
		}
		if len(ms.Relocs) == 0 {
			ms.Relocs = nil
		}
	}

	inferSizes(o)

	for i := range r.secs {
		s := &r.secs[i]
		if s.state != secKeep || !s.comdat {
			continue
		}
		c := Comdat{Section: s.model, Selection: s.sel, Leader: -1, Associate: -1}
		if s.sel == ComdatAssociative {
			c.Associate = r.secs[s.assoc-1].model
		} else {
			c.Leader = r.syms[s.leader].model
		}
		f.Comdats = append(f.Comdats, c)
	}
	return f, nil
}

// modelSymbol converts a regular COFF symbol.
func (r *reader) modelSymbol(sym *coffSymbol) obj.Symbol {
	ms := obj.Symbol{Name: sym.name, Value: uint64(sym.value), Bind: obj.Global}
	if sym.class != classExternal {
		ms.Bind = obj.Local
	}
	switch {
	case sym.section == symUndefined:
		ms.Section, ms.Value = obj.Undef, 0
	case sym.section < 0:
		ms.Section = obj.Abs
	default:
		s := &r.secs[sym.section-1]
		ms.Section = s.model
		switch {
		case (sym.typ>>4)&0xf == 2: // IMAGE_SYM_DTYPE_FUNCTION
			ms.Kind = obj.SymFunc
		case s.kind != obj.Text:
			ms.Kind = obj.SymData
		}
	}
	return ms
}

// inferSizes gives every function and data symbol a size: COFF has none,
// so a symbol extends to the next function or data symbol of its section
// at a higher offset, or to the section's end.
func inferSizes(o *obj.Object) {
	starts := make([][]uint64, len(o.Sections))
	for _, s := range o.Symbols {
		if s.Section >= 0 && (s.Kind == obj.SymFunc || s.Kind == obj.SymData) {
			starts[s.Section] = append(starts[s.Section], s.Value)
		}
	}
	for _, v := range starts {
		sort.Slice(v, func(a, b int) bool { return v[a] < v[b] })
	}
	for _, s := range o.Symbols {
		if s.Section < 0 || (s.Kind != obj.SymFunc && s.Kind != obj.SymData) {
			continue
		}
		v := starts[s.Section]
		end := o.Sections[s.Section].Size
		if n := sort.Search(len(v), func(i int) bool { return v[i] > s.Value }); n < len(v) {
			end = v[n]
		}
		s.Size = end - s.Value
	}
}
