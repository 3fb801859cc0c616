// Package obj is linkcheck's format-neutral object model: what the code
// generator produces, what the ELF, Mach-O and COFF writers serialize, what
// the readers return for object files from any compiler, and what the
// linkers consume.
//
// An Object is a list of sections and a symbol table. The code generator
// emits one section per atom (function, global, const, error table), as
// -ffunction-sections -fdata-sections would; sections read from other
// compilers' objects may hold several symbols at different offsets.
// Relocations use neutral kinds whose arithmetic is that of ELF x86_64
// (S + A - P with an explicit addend); writers translate to each format's
// encoding, and format quirks (Mach-O's implicit addends and leading
// underscores, COFF's pointer cells in place of a GOT) stay in the writers.
package obj

import (
	"fmt"
)

// Format names an object and executable format.
type Format string

// The formats linkcheck knows.
const (
	ELF   Format = "elf"
	MachO Format = "macho"
	COFF  Format = "coff"
	Wasm  Format = "wasm"
)

// Formats lists every format, in a stable order.
var Formats = []Format{ELF, MachO, COFF, Wasm}

// ParseFormat parses a -format flag value.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q (want elf, macho, coff or wasm)", s)
}

// SectionKind is what a section holds, which decides where a linker puts it.
type SectionKind uint8

// Section kinds.
const (
	Text   SectionKind = iota + 1 // executable code
	ROData                        // read-only data
	Data                          // writable data
	BSS                           // writable data that starts as zeros (no bytes in the file)
)

func (k SectionKind) String() string {
	switch k {
	case Text:
		return "text"
	case ROData:
		return "rodata"
	case Data:
		return "data"
	case BSS:
		return "bss"
	}
	return fmt.Sprintf("SectionKind(%d)", uint8(k))
}

// Section is a contiguous piece of an object: one atom when the code
// generator made it. (The fields are ordered pointers first, then by
// size, so that the struct is small, 144 bytes, and the collector scans
// only its head: a link holds one per input section.)
type Section struct {
	// Name is the section's name in ELF spelling (".text.f", ".rodata",
	// ".data.g", ".bss"); writers of other formats map it.
	Name string
	// Data holds the bytes; nil for BSS.
	Data []byte
	// Relocs are the places in Data that refer to symbols, sorted by Offset.
	Relocs []Reloc
	// Group is the signature of the COMDAT group (ELF SHT_GROUP with
	// GRP_COMDAT) the section belongs to, or empty: a linker keeps the
	// group's sections from the first object that has the group and
	// discards the others'.
	Group string
	// DataInCode are the ranges of a code section that hold data, not
	// instructions (Mach-O LC_DATA_IN_CODE entries: clang's jump tables),
	// sorted by Offset. A linker that records them copies them to its
	// output; readers of the output need not decode them as code.
	DataInCode []DataRange
	Align      uint64 // a power of two, at least 1
	// Size is len(Data), or the size in memory for BSS.
	Size    uint64
	EntSize uint64
	// ArrayType is the ELF section type of an init, fini or preinit
	// array whose name does not say it (ld.lld's gc-sections test has
	// `.init` of type SHT_INIT_ARRAY), 0 otherwise: a linker writes it as
	// that type and puts it with the other arrays in RELRO.
	ArrayType uint32
	Kind      SectionKind
	// Merge marks a mergeable section (ELF SHF_MERGE) of EntSize-byte
	// entries; Strings marks NUL-terminated strings (SHF_STRINGS).
	Merge   bool
	Strings bool
	// ReadOnly marks a BSS section that is not writable (ELF SHT_NOBITS
	// without SHF_WRITE): zeros in a read-only segment.
	ReadOnly bool
	// Note marks an allocated ELF note section (SHT_NOTE), which a linker
	// places first among read-only data and describes with PT_NOTE.
	Note bool
	// Common marks the BSS section of one common symbol (ELF SHN_COMMON,
	// named COMMON): a linker allocates one such symbol per name, the
	// largest, at the largest alignment, and none when a non-weak
	// definition of the name exists.
	Common bool
	// TLS marks a thread-local section (ELF SHF_TLS: .tdata, or .tbss
	// when Kind is BSS): its contents are the initialization image of
	// every thread's block, not data at a fixed address.
	TLS bool
	// Writable marks a code section that is also writable (ELF
	// SHF_WRITE|SHF_EXECINSTR): it goes to a read-write-execute segment.
	Writable bool
	// EHFrame marks an ELF .eh_frame section: call frame information, a
	// sequence of CIE and FDE records that a linker splits, deduplicates
	// (CIEs) and filters (FDEs of discarded code) into one output
	// .eh_frame, as ld.lld's EhFrameSection does, rather than copying it
	// whole. Kind is ROData.
	EHFrame bool
	// Exec marks a BSS section that is executable (ELF SHT_NOBITS with
	// SHF_EXECINSTR): zeros a linker places after the code, in the code
	// segment, taking no room in the file.
	Exec bool
}

// DataRange is a range of data in a code section: Size bytes at Offset,
// of a format-specific Kind (Mach-O's DICE_KIND_*).
type DataRange struct {
	Offset uint64
	Size   uint64
	Kind   uint16
}

// Binding is a symbol's visibility to other objects.
type Binding uint8

// Bindings.
const (
	Local  Binding = iota + 1 // visible only inside its object
	Global                    // one definition across the link
	Weak                      // a global that yields to a non-weak definition
)

func (b Binding) String() string {
	switch b {
	case Local:
		return "local"
	case Global:
		return "global"
	case Weak:
		return "weak"
	}
	return fmt.Sprintf("Binding(%d)", uint8(b))
}

// SymKind is what a symbol names.
type SymKind uint8

// Symbol kinds.
const (
	SymNone    SymKind = iota // unknown or a label
	SymFunc                   // code
	SymData                   // data
	SymSection                // a section's start (ELF STT_SECTION)
	SymTLS                    // a thread-local variable (ELF STT_TLS)
	SymIFunc                  // an indirect function: its value is the resolver (ELF STT_GNU_IFUNC)
)

func (k SymKind) String() string {
	switch k {
	case SymNone:
		return "notype"
	case SymFunc:
		return "func"
	case SymData:
		return "object"
	case SymSection:
		return "section"
	case SymTLS:
		return "tls"
	case SymIFunc:
		return "ifunc"
	}
	return fmt.Sprintf("SymKind(%d)", uint8(k))
}

// Special values of Symbol.Section.
const (
	Undef = -1 // defined in another object
	Abs   = -2 // an absolute value, not in any section
)

// Symbol is an entry of the symbol table.
type Symbol struct {
	// Name is the C-level name, without Mach-O's leading underscore.
	Name string
	// Section is the index of the defining section in Object.Sections, or
	// Undef or Abs.
	Section int
	// Value is the offset in the section (or the absolute value).
	Value uint64
	Size  uint64
	Bind  Binding
	Kind  SymKind
	// Visibility is the ELF symbol visibility (st_other); the zero value
	// is the default visibility.
	Visibility Visibility
}

// Visibility is an ELF symbol visibility (STV_*). A hidden or internal
// global is bound across objects but local to the linked output.
type Visibility uint8

// Visibilities, with the ELF values.
const (
	VisDefault   Visibility = 0
	VisInternal  Visibility = 1
	VisHidden    Visibility = 2
	VisProtected Visibility = 3
)

// Combine returns the more constraining of two visibilities, as the
// gABI combines those of one name across objects (default yields to any
// other; otherwise internal < hidden < protected).
func (v Visibility) Combine(w Visibility) Visibility {
	switch {
	case v == VisDefault:
		return w
	case w == VisDefault:
		return v
	}
	return min(v, w)
}

// Localized reports whether a global of this visibility becomes local in
// an executable (hidden and internal).
func (v Visibility) Localized() bool { return v == VisHidden || v == VisInternal }

// Defined reports whether the symbol is defined in this object.
func (s *Symbol) Defined() bool { return s.Section != Undef }

// RelocKind is a neutral relocation kind. S is the symbol's address, A the
// addend, P the address of the relocated field, G the address of the
// symbol's GOT slot.
type RelocKind uint8

// Relocation kinds.
const (
	// Abs64 is S + A in 8 bytes (R_X86_64_64, X86_64_RELOC_UNSIGNED,
	// IMAGE_REL_AMD64_ADDR64).
	Abs64 RelocKind = iota + 1
	// Abs32 is S + A in 4 bytes, zero-extended (R_X86_64_32, IMAGE_REL_AMD64_ADDR32).
	Abs32
	// Abs32S is S + A in 4 bytes, sign-extended (R_X86_64_32S).
	Abs32S
	// PCRel32 is S + A - P in 4 bytes: a RIP-relative data or code
	// reference (R_X86_64_PC32, X86_64_RELOC_SIGNED, IMAGE_REL_AMD64_REL32).
	PCRel32
	// Branch32 is S + A - P in 4 bytes in a call or jmp (R_X86_64_PLT32,
	// X86_64_RELOC_BRANCH, IMAGE_REL_AMD64_REL32).
	Branch32
	// GOTPCRel32 is G + A - P: the RIP-relative address of S's GOT slot,
	// in an instruction that must keep using the slot (R_X86_64_GOTPCREL,
	// X86_64_RELOC_GOT).
	GOTPCRel32
	// GOTLoad32 is G + A - P in a `mov r64, [rip+disp]` that a linker may
	// relax to `lea r64, [rip+S]` (R_X86_64_REX_GOTPCRELX,
	// X86_64_RELOC_GOT_LOAD; a pointer cell in COFF).
	GOTLoad32
	// ImageRel32 is S + A - ImageBase in 4 bytes (IMAGE_REL_AMD64_ADDR32NB).
	ImageRel32
	// Abs8 and Abs16 are S + A in 1 and 2 bytes (R_X86_64_8, R_X86_64_16).
	Abs8
	Abs16
	// PCRel8, PCRel16 and PCRel64 are S + A - P in 1, 2 and 8 bytes
	// (R_X86_64_PC8, PC16, PC64).
	PCRel8
	PCRel16
	PCRel64
	// Size32 and Size64 are Z + A, Z the symbol's size (R_X86_64_SIZE32,
	// SIZE64).
	Size32
	Size64
	// GOTOff64 is S + A - GOT, GOT the address of the GOT base
	// (_GLOBAL_OFFSET_TABLE_), in 8 bytes (R_X86_64_GOTOFF64).
	GOTOff64
	// GOTPC32 and GOTPC64 are GOT + A - P in 4 and 8 bytes
	// (R_X86_64_GOTPC32, GOTPC64).
	GOTPC32
	GOTPC64
	// TPOff32 is S + A - TP, TP the thread pointer (the end of the
	// static TLS block), in 4 signed bytes (R_X86_64_TPOFF32):
	// local-exec. (ld.lld 16 refuses R_X86_64_TPOFF64: so does the
	// model.)
	TPOff32
	// GOTTPOff is the initial-exec G + A - P of the slot holding S's TP
	// offset (R_X86_64_GOTTPOFF); in a static executable it is relaxed
	// to local-exec: the load becomes an immediate TPOff32.
	GOTTPOff
	// TLSGD and TLSLD are the general- and local-dynamic sequences'
	// `lea x@tlsgd(%rip), %rdi` / `lea x@tlsld(%rip), %rdi`, each followed
	// by a call of __tls_get_addr whose relocation is part of the
	// sequence (R_X86_64_TLSGD, TLSLD); a static executable relaxes both
	// to local-exec code.
	TLSGD
	TLSLD
	// DTPOff32 and DTPOff64 are S + A - the module's TLS block start
	// (R_X86_64_DTPOFF32, DTPOFF64); relaxed with TLSLD they are TPOff.
	DTPOff32
	DTPOff64
)

// LastRelocKind is the highest RelocKind an object may hold.
const LastRelocKind = DTPOff64

// Kinds of the incremental Wasm linker's atoms (ref/wasm's IncrProgram;
// never in an Object): Wasm relocations whose fields are 5-byte padded
// LEB128s or 4-byte little-endian words. A function's index is the
// index of its slot in an indexed region (incr.Region.Indexed) plus the
// addend; a table index is its GOT slot + 1 (the table is the incremental
// linker's GOT; slot 0 of a Wasm table is null).
const (
	// WasmFuncIndexLEB is the function index of S, + A, in a padded
	// ULEB128 (R_WASM_FUNCTION_INDEX_LEB).
	WasmFuncIndexLEB RelocKind = iota + LastRelocKind + 1
	// WasmTableIndexSLEB is S's table index in a padded SLEB128
	// (R_WASM_TABLE_INDEX_SLEB).
	WasmTableIndexSLEB
	// WasmTableIndexI32 is S's table index in 4 bytes
	// (R_WASM_TABLE_INDEX_I32).
	WasmTableIndexI32
	// WasmAddrLEB is S + A in a padded ULEB128 (R_WASM_MEMORY_ADDR_LEB).
	WasmAddrLEB
	// WasmAddrSLEB is S + A in a padded SLEB128 (R_WASM_MEMORY_ADDR_SLEB).
	WasmAddrSLEB
	// WasmBodySizeLEB is the size of a function body that fills its
	// slot, Z - 5 (Z the atom's slot), in a padded ULEB128; its addend is
	// the function's type index, which the format's function section
	// lists.
	WasmBodySizeLEB
)

// LastWasmKind is the highest Wasm kind.
const LastWasmKind = WasmBodySizeLEB

var relocKindNames = [...]string{
	Abs8: "abs8", Abs16: "abs16", PCRel8: "pcrel8", PCRel16: "pcrel16", PCRel64: "pcrel64",
	Size32: "size32", Size64: "size64", GOTOff64: "gotoff64", GOTPC32: "gotpc32", GOTPC64: "gotpc64",
	TPOff32: "tpoff32", GOTTPOff: "gottpoff",
	TLSGD: "tlsgd", TLSLD: "tlsld", DTPOff32: "dtpoff32", DTPOff64: "dtpoff64",
	WasmFuncIndexLEB: "wasm_func_index_leb", WasmTableIndexSLEB: "wasm_table_index_sleb", WasmTableIndexI32: "wasm_table_index_i32",
	WasmAddrLEB: "wasm_memory_addr_leb", WasmAddrSLEB: "wasm_memory_addr_sleb", WasmBodySizeLEB: "wasm_body_size_leb",
}

// TLS reports whether the relocation is a thread-local storage one.
func (k RelocKind) TLS() bool { return k >= TPOff32 && k <= DTPOff64 }

func (k RelocKind) String() string {
	switch k {
	case Abs64:
		return "abs64"
	case Abs32:
		return "abs32"
	case Abs32S:
		return "abs32s"
	case PCRel32:
		return "pcrel32"
	case Branch32:
		return "branch32"
	case GOTPCRel32:
		return "gotpcrel32"
	case GOTLoad32:
		return "gotload32"
	case ImageRel32:
		return "imagerel32"
	}
	if int(k) < len(relocKindNames) && relocKindNames[k] != "" {
		return relocKindNames[k]
	}
	return fmt.Sprintf("RelocKind(%d)", uint8(k))
}

// Size returns the width in bytes of the field the relocation writes.
func (k RelocKind) Size() int {
	switch k {
	case Abs64, PCRel64, Size64, GOTOff64, GOTPC64, DTPOff64:
		return 8
	case Abs8, PCRel8:
		return 1
	case WasmFuncIndexLEB, WasmTableIndexSLEB, WasmAddrLEB, WasmAddrSLEB, WasmBodySizeLEB:
		return 5
	case Abs16, PCRel16:
		return 2
	}
	return 4
}

// PCRelative reports whether the value is relative to the field's address.
func (k RelocKind) PCRelative() bool {
	switch k {
	case PCRel32, Branch32, GOTPCRel32, GOTLoad32, PCRel8, PCRel16, PCRel64, GOTPC32, GOTPC64:
		return true
	}
	return false
}

// UsesGOT reports whether the relocation refers to the symbol's GOT slot.
func (k RelocKind) UsesGOT() bool {
	return k == GOTPCRel32 || k == GOTLoad32 || k == WasmTableIndexSLEB || k == WasmTableIndexI32
}

// Indexed reports whether the value is the index of the symbol's slot in
// an indexed region rather than its address (a Wasm function index).
func (k RelocKind) Indexed() bool { return k == WasmFuncIndexLEB }

// Reloc is a relocation: the field at Offset in its section receives the
// value of Kind for symbol Sym (an index into Object.Symbols) and Addend.
type Reloc struct {
	Offset uint64
	Kind   RelocKind
	Sym    int
	Addend int64
}

// Object is one relocatable object file.
type Object struct {
	// Name is the file name, used in messages.
	Name string
	// File is the source file name of the object's first ELF STT_FILE
	// symbol ("a.c"), "" when it has none. A linker writes it to the
	// output's symbol table before the object's local symbols, which is
	// how readers tell same-named locals of different files apart.
	File     string
	Sections []*Section
	Symbols  []*Symbol
}

// Lookup returns the index of the symbol named name, or -1.
func (o *Object) Lookup(name string) int {
	for i, s := range o.Symbols {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// Validate checks the object's internal consistency: indexes in range,
// relocations inside their sections and sorted, alignments powers of two,
// sizes consistent. Readers call it on what they decode, and writers on
// what they are given, so that no later stage indexes out of range.
func (o *Object) Validate() error {
	for i, s := range o.Sections {
		if s == nil {
			return fmt.Errorf("%s: section %d is nil", o.Name, i)
		}
		if s.Kind < Text || s.Kind > BSS {
			return fmt.Errorf("%s: section %d %q: bad kind %d", o.Name, i, s.Name, s.Kind)
		}
		if s.Align == 0 || s.Align&(s.Align-1) != 0 {
			return fmt.Errorf("%s: section %d %q: alignment %d is not a power of two", o.Name, i, s.Name, s.Align)
		}
		if s.Kind == BSS {
			if len(s.Data) != 0 {
				return fmt.Errorf("%s: section %d %q: bss section has %d bytes of data", o.Name, i, s.Name, len(s.Data))
			}
			if len(s.Relocs) != 0 {
				return fmt.Errorf("%s: section %d %q: bss section has relocations", o.Name, i, s.Name)
			}
		} else if uint64(len(s.Data)) != s.Size {
			return fmt.Errorf("%s: section %d %q: size %d but %d bytes of data", o.Name, i, s.Name, s.Size, len(s.Data))
		}
		for j, d := range s.DataInCode {
			if d.Offset > s.Size || s.Size-d.Offset < d.Size {
				return fmt.Errorf("%s: section %d %q: data-in-code range %d [%#x, +%#x) outside the section (size %#x)", o.Name, i, s.Name, j, d.Offset, d.Size, s.Size)
			}
			if j > 0 && d.Offset < s.DataInCode[j-1].Offset {
				return fmt.Errorf("%s: section %d %q: data-in-code range %d at offset %#x: ranges not sorted by offset", o.Name, i, s.Name, j, d.Offset)
			}
		}
		var prev uint64
		for j, r := range s.Relocs {
			if r.Kind < Abs64 || r.Kind > LastRelocKind {
				return fmt.Errorf("%s: section %q: reloc %d: bad kind %d", o.Name, s.Name, j, r.Kind)
			}
			if r.Offset > s.Size || s.Size-r.Offset < uint64(r.Kind.Size()) {
				return fmt.Errorf("%s: section %q: reloc %d (%s) at offset %#x: field outside the section (size %#x)", o.Name, s.Name, j, r.Kind, r.Offset, s.Size)
			}
			if j > 0 && r.Offset < prev {
				return fmt.Errorf("%s: section %q: reloc %d at offset %#x: relocations not sorted by offset", o.Name, s.Name, j, r.Offset)
			}
			prev = r.Offset
			if r.Sym < 0 || r.Sym >= len(o.Symbols) {
				return fmt.Errorf("%s: section %q: reloc %d at offset %#x: symbol index %d out of range (%d symbols)", o.Name, s.Name, j, r.Offset, r.Sym, len(o.Symbols))
			}
		}
	}
	for i, sym := range o.Symbols {
		if sym == nil {
			return fmt.Errorf("%s: symbol %d is nil", o.Name, i)
		}
		switch {
		case sym.Section == Undef || sym.Section == Abs:
		case sym.Section < 0 || sym.Section >= len(o.Sections):
			return fmt.Errorf("%s: symbol %d %q: section index %d out of range", o.Name, i, sym.Name, sym.Section)
		case sym.Value > o.Sections[sym.Section].Size:
			return fmt.Errorf("%s: symbol %d %q: value %#x past the end of section %q (size %#x)", o.Name, i, sym.Name, sym.Value, o.Sections[sym.Section].Name, o.Sections[sym.Section].Size)
		}
		if sym.Bind < Local || sym.Bind > Weak {
			return fmt.Errorf("%s: symbol %d %q: bad binding %d", o.Name, i, sym.Name, sym.Bind)
		}
		if sym.Section == Undef && sym.Bind == Local {
			return fmt.Errorf("%s: symbol %d %q: undefined local symbol", o.Name, i, sym.Name)
		}
	}
	return nil
}
