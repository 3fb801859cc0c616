// Package wasm holds what is Wasm's in linkcheck's reference implementation:
// an object model of a WebAssembly relocatable object (an MVP module plus
// the tool conventions' "linking" and "reloc.*" custom sections), a writer
// that lays such objects out as LLVM's WasmObjectWriter does, and a bounded
// reader that decodes objects from any producer (clang, wasmgen) into the
// model.
//
// The model is Wasm's own, not package obj's: Wasm objects have index
// spaces (types, functions, globals, tables) rather than sections at
// addresses, and their relocations patch fixed-width fields (5-byte padded
// LEB128 or 4-byte little-endian) in function bodies and data segments.
//
// Conventions followed (docs/wasm.md):
//
//   - one code section and one data section; each defined function is a
//     Function whose Code is its instruction bytes (the body without the
//     locals declaration) and whose Relocs are offsets into Code;
//   - each data segment is a Segment with its name, alignment and flags from
//     WASM_SEGMENT_INFO and its Relocs as offsets into Data;
//   - the symbol table (WASM_SYMBOL_TABLE) of the "linking" section,
//     version 2, lists function, data, global, table and section symbols;
//   - relocation sections follow the linking section, one per relocated
//     section, with entries sorted by offset.
package wasm

import (
	"errors"
	"fmt"
)

// Magic and version of a Wasm binary.
const (
	Magic   = "\x00asm"
	Version = 1
)

// LinkingVersion is the version of the "linking" section this package
// reads and writes.
const LinkingVersion = 2

// ErrMalformed is wrapped by every error about a file that is not a valid
// Wasm relocatable object (truncated, bad LEB128, indexes out of range,
// relocations outside their section, ...).
var ErrMalformed = errors.New("malformed")

// ErrUnsupported is wrapped by every error about a well-formed feature the
// reference implementation does not handle (comdats, tags, the start
// section, element segments other than active ones of table 0, memory64
// relocations, ...).
var ErrUnsupported = errors.New("unsupported")

// ValType is a value type (or reference type) code.
type ValType byte

// Value and reference types.
const (
	I32       ValType = 0x7f
	I64       ValType = 0x7e
	F32       ValType = 0x7d
	F64       ValType = 0x7c
	V128      ValType = 0x7b
	FuncRef   ValType = 0x70
	ExternRef ValType = 0x6f
)

func (t ValType) String() string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	case F32:
		return "f32"
	case F64:
		return "f64"
	case V128:
		return "v128"
	case FuncRef:
		return "funcref"
	case ExternRef:
		return "externref"
	}
	return fmt.Sprintf("valtype(%#x)", byte(t))
}

func (t ValType) isValue() bool {
	switch t {
	case I32, I64, F32, F64, V128, FuncRef, ExternRef:
		return true
	}
	return false
}

func (t ValType) isRef() bool { return t == FuncRef || t == ExternRef }

// FuncType is a function signature.
type FuncType struct {
	Params, Results []ValType
}

// Equal reports whether two signatures are the same.
func (t FuncType) Equal(u FuncType) bool {
	if len(t.Params) != len(u.Params) || len(t.Results) != len(u.Results) {
		return false
	}
	for i := range t.Params {
		if t.Params[i] != u.Params[i] {
			return false
		}
	}
	for i := range t.Results {
		if t.Results[i] != u.Results[i] {
			return false
		}
	}
	return true
}

func (t FuncType) String() string {
	return fmt.Sprintf("%v -> %v", t.Params, t.Results)
}

// Limits are the size bounds of a memory (in 64 KiB pages) or table (in
// elements).
type Limits struct {
	Min    uint32
	Max    uint32 // meaningful when HasMax
	HasMax bool
}

// TableType is a table's element type and limits.
type TableType struct {
	Elem   ValType // FuncRef or ExternRef
	Limits Limits
}

// GlobalType is a global's value type and mutability.
type GlobalType struct {
	Type    ValType
	Mutable bool
}

// ExternKind is the kind of an import or export.
type ExternKind byte

// Import and export kinds.
const (
	ExternFunc   ExternKind = 0
	ExternTable  ExternKind = 1
	ExternMemory ExternKind = 2
	ExternGlobal ExternKind = 3
)

func (k ExternKind) String() string {
	switch k {
	case ExternFunc:
		return "func"
	case ExternTable:
		return "table"
	case ExternMemory:
		return "memory"
	case ExternGlobal:
		return "global"
	}
	return fmt.Sprintf("externkind(%d)", byte(k))
}

// Import is one import. Which of Type, Table, Memory and Global is
// meaningful depends on Kind.
type Import struct {
	Module, Name string
	Kind         ExternKind
	Type         uint32 // ExternFunc: type index
	Table        TableType
	Memory       Limits
	Global       GlobalType
}

// Export is one export.
type Export struct {
	Name  string
	Kind  ExternKind
	Index uint32
}

// Global is a defined global. Init is its constant initializer expression
// without the final `end`: a single i32.const, i64.const, f32.const,
// f64.const, global.get or ref.null/ref.func instruction.
type Global struct {
	Type GlobalType
	Init []byte
}

// LocalGroup declares Count locals of one type.
type LocalGroup struct {
	Count uint32
	Type  ValType
}

// Function is a defined function. Its index in the function index space is
// the number of imported functions plus its position in Object.Funcs.
type Function struct {
	Type   uint32 // type index
	Locals []LocalGroup
	// Code is the function's expression: its instructions, ending with
	// the `end` opcode (0x0b). Relocation offsets are relative to Code[0].
	Code   []byte
	Relocs []Reloc // sorted by Offset
}

// Segment is a data segment with its WASM_SEGMENT_INFO entry.
type Segment struct {
	Name  string // ".data.g", ".rodata.k", ".bss.z"
	Align uint32 // log2 of the alignment
	Flags uint32 // SegmentStrings, SegmentTLS, SegmentRetain
	// Passive segments have no offset; active ones are placed in memory 0
	// at Offset (an i32.const), which in an object is the segment's place
	// in the object's own data layout.
	Passive bool
	Offset  uint32
	Data    []byte
	Relocs  []Reloc // offsets relative to Data[0], sorted
}

// Segment flags of WASM_SEGMENT_INFO.
const (
	SegmentStrings = 0x1
	SegmentTLS     = 0x2
	SegmentRetain  = 0x4
)

// Elem is an active element segment of table 0 (flags 0): function indexes
// placed from Offset. LLVM lists the address-taken functions in one.
type Elem struct {
	Offset uint32
	Funcs  []uint32
}

// Custom is a custom section other than "linking" and "reloc.*": its
// name, payload and, when a reloc section targets it, its relocations.
type Custom struct {
	Name   string
	Data   []byte
	Relocs []Reloc
	// Early custom sections come before the linking section (LLVM puts
	// debug sections there); the others after the relocation sections.
	Early bool
}

// SymKind is the kind of a symbol table entry.
type SymKind byte

// Symbol kinds of WASM_SYMBOL_TABLE.
const (
	SymFunction SymKind = 0
	SymData     SymKind = 1
	SymGlobal   SymKind = 2
	SymSection  SymKind = 3
	SymTag      SymKind = 4
	SymTable    SymKind = 5
)

func (k SymKind) String() string {
	switch k {
	case SymFunction:
		return "function"
	case SymData:
		return "data"
	case SymGlobal:
		return "global"
	case SymSection:
		return "section"
	case SymTag:
		return "tag"
	case SymTable:
		return "table"
	}
	return fmt.Sprintf("symkind(%d)", byte(k))
}

// Symbol flags.
const (
	SymBindingWeak      = 0x1
	SymBindingLocal     = 0x2
	SymVisibilityHidden = 0x4
	SymUndefined        = 0x10
	SymExported         = 0x20
	SymExplicitName     = 0x40
	SymNoStrip          = 0x80
	SymTLS              = 0x100
	SymAbsolute         = 0x200

	symKnownFlags = SymBindingWeak | SymBindingLocal | SymVisibilityHidden | SymUndefined |
		SymExported | SymExplicitName | SymNoStrip | SymTLS | SymAbsolute
)

// Symbol is one entry of the symbol table.
//
// For function, global and table symbols Index is the function, global or
// table index; an undefined one refers to an import, and its Name is the
// import's field name unless SymExplicitName is set (the symbol table then
// carries the name; otherwise the writer omits it, as the conventions
// require). For defined data symbols Segment, Offset and Size place the
// datum; undefined data symbols have none. For section symbols (of debug
// sections) Name is empty and Index is the custom section's index in
// Object.Customs; the writer and reader translate it to and from the
// section's index in the file.
type Symbol struct {
	Kind    SymKind
	Name    string
	Flags   uint32
	Index   uint32
	Segment uint32
	Offset  uint32
	Size    uint32
}

// Undefined reports whether the symbol is undefined.
func (s *Symbol) Undefined() bool { return s.Flags&SymUndefined != 0 }

// Local reports whether the symbol has local binding.
func (s *Symbol) Local() bool { return s.Flags&SymBindingLocal != 0 }

// RelocType is a relocation type of the tool conventions.
type RelocType byte

// Relocation types.
const (
	RFunctionIndexLEB    RelocType = 0
	RTableIndexSLEB      RelocType = 1
	RTableIndexI32       RelocType = 2
	RMemoryAddrLEB       RelocType = 3
	RMemoryAddrSLEB      RelocType = 4
	RMemoryAddrI32       RelocType = 5
	RTypeIndexLEB        RelocType = 6
	RGlobalIndexLEB      RelocType = 7
	RFunctionOffsetI32   RelocType = 8
	RSectionOffsetI32    RelocType = 9
	RTagIndexLEB         RelocType = 10
	RMemoryAddrRelSLEB   RelocType = 11
	RTableIndexRelSLEB   RelocType = 12
	RGlobalIndexI32      RelocType = 13
	RMemoryAddrLEB64     RelocType = 14
	RMemoryAddrSLEB64    RelocType = 15
	RMemoryAddrI64       RelocType = 16
	RMemoryAddrRelSLEB64 RelocType = 17
	RTableIndexSLEB64    RelocType = 18
	RTableIndexI64       RelocType = 19
	RTableNumberLEB      RelocType = 20
	RMemoryAddrTLSSLEB   RelocType = 21
	RFunctionOffsetI64   RelocType = 22
	RMemoryAddrLocRelI32 RelocType = 23
	RTableIndexRelSLEB64 RelocType = 24
	RMemoryAddrTLSSLEB64 RelocType = 25
	RFunctionIndexI32    RelocType = 26
)

var relocNames = [...]string{
	"R_WASM_FUNCTION_INDEX_LEB", "R_WASM_TABLE_INDEX_SLEB", "R_WASM_TABLE_INDEX_I32",
	"R_WASM_MEMORY_ADDR_LEB", "R_WASM_MEMORY_ADDR_SLEB", "R_WASM_MEMORY_ADDR_I32",
	"R_WASM_TYPE_INDEX_LEB", "R_WASM_GLOBAL_INDEX_LEB", "R_WASM_FUNCTION_OFFSET_I32",
	"R_WASM_SECTION_OFFSET_I32", "R_WASM_TAG_INDEX_LEB", "R_WASM_MEMORY_ADDR_REL_SLEB",
	"R_WASM_TABLE_INDEX_REL_SLEB", "R_WASM_GLOBAL_INDEX_I32", "R_WASM_MEMORY_ADDR_LEB64",
	"R_WASM_MEMORY_ADDR_SLEB64", "R_WASM_MEMORY_ADDR_I64", "R_WASM_MEMORY_ADDR_REL_SLEB64",
	"R_WASM_TABLE_INDEX_SLEB64", "R_WASM_TABLE_INDEX_I64", "R_WASM_TABLE_NUMBER_LEB",
	"R_WASM_MEMORY_ADDR_TLS_SLEB", "R_WASM_FUNCTION_OFFSET_I64", "R_WASM_MEMORY_ADDR_LOCREL_I32",
	"R_WASM_TABLE_INDEX_REL_SLEB64", "R_WASM_MEMORY_ADDR_TLS_SLEB64", "R_WASM_FUNCTION_INDEX_I32",
}

func (t RelocType) String() string {
	if int(t) < len(relocNames) {
		return relocNames[t]
	}
	return fmt.Sprintf("R_WASM_type_%d", byte(t))
}

// Known reports whether t is a relocation type of the conventions.
func (t RelocType) Known() bool { return int(t) < len(relocNames) }

// HasAddend reports whether entries of type t carry an addend.
func (t RelocType) HasAddend() bool {
	switch t {
	case RMemoryAddrLEB, RMemoryAddrSLEB, RMemoryAddrI32, RMemoryAddrRelSLEB,
		RMemoryAddrLEB64, RMemoryAddrSLEB64, RMemoryAddrI64, RMemoryAddrRelSLEB64,
		RMemoryAddrTLSSLEB, RMemoryAddrTLSSLEB64, RMemoryAddrLocRelI32,
		RFunctionOffsetI32, RFunctionOffsetI64, RSectionOffsetI32:
		return true
	}
	return false
}

// FieldSize is the width in bytes of the field a relocation of type t
// patches: 5 for a padded 32-bit LEB128, 10 for a 64-bit one, 4 or 8 for a
// little-endian integer.
func (t RelocType) FieldSize() int {
	switch t {
	case RTableIndexI32, RMemoryAddrI32, RFunctionOffsetI32, RSectionOffsetI32,
		RGlobalIndexI32, RMemoryAddrLocRelI32, RFunctionIndexI32:
		return 4
	case RMemoryAddrLEB64, RMemoryAddrSLEB64, RMemoryAddrRelSLEB64, RTableIndexSLEB64,
		RTableIndexRelSLEB64, RMemoryAddrTLSSLEB64:
		return 10
	case RMemoryAddrI64, RTableIndexI64, RFunctionOffsetI64:
		return 8
	}
	return 5
}

// IsLEB reports whether the relocated field is a padded LEB128.
func (t RelocType) IsLEB() bool {
	n := t.FieldSize()
	return n == 5 || n == 10
}

// TargetKind is the kind of symbol a relocation of type t refers to;
// ok is false for RTypeIndexLEB, whose index is a type index.
func (t RelocType) TargetKind() (kind SymKind, ok bool) {
	switch t {
	case RFunctionIndexLEB, RTableIndexSLEB, RTableIndexI32, RFunctionOffsetI32,
		RTableIndexRelSLEB, RTableIndexSLEB64, RTableIndexI64, RFunctionOffsetI64,
		RTableIndexRelSLEB64, RFunctionIndexI32:
		return SymFunction, true
	case RGlobalIndexLEB, RGlobalIndexI32:
		return SymGlobal, true
	case RSectionOffsetI32:
		return SymSection, true
	case RTagIndexLEB:
		return SymTag, true
	case RTableNumberLEB:
		return SymTable, true
	case RTypeIndexLEB:
		return 0, false
	}
	return SymData, true
}

// Reloc is one relocation: at Offset (relative to the bytes of the
// function, segment or custom section that owns it) a field of
// Type.FieldSize() bytes that the linker rewrites with the value of symbol
// Index (a type index for RTypeIndexLEB) plus Addend.
type Reloc struct {
	Type   RelocType
	Offset uint32
	Index  uint32
	Addend int32
}

// InitFunc is an entry of WASM_INIT_FUNCS.
type InitFunc struct {
	Priority uint32
	Symbol   uint32
}

// Object is a Wasm relocatable object.
type Object struct {
	Name     string // file name, for messages
	Types    []FuncType
	Imports  []Import
	Funcs    []Function
	Tables   []TableType
	Memories []Limits
	Globals  []Global
	Exports  []Export
	Elems    []Elem
	// DataCount writes a DataCount section (LLVM writes one when the
	// object has data segments and bulk memory is enabled).
	DataCount bool
	Segments  []Segment
	Symbols   []Symbol
	InitFuncs []InitFunc
	Customs   []Custom
	// at is the file offset of each entity's encoding, for the linker's
	// messages (nil for an object not read from a file).
	at map[loc]int
}

// NumImported returns how many imports of kind k the object has: the
// first index of its defined entities of that kind.
func (o *Object) NumImported(k ExternKind) int {
	n := 0
	for i := range o.Imports {
		if o.Imports[i].Kind == k {
			n++
		}
	}
	return n
}

// FuncType returns the signature of function index i, or false when i is
// out of range.
func (o *Object) FuncType(i uint32) (FuncType, bool) {
	n := uint32(0)
	for _, im := range o.Imports {
		if im.Kind != ExternFunc {
			continue
		}
		if n == i {
			if int(im.Type) < len(o.Types) {
				return o.Types[im.Type], true
			}
			return FuncType{}, false
		}
		n++
	}
	d := i - n
	if i < n || int(d) >= len(o.Funcs) || int(o.Funcs[d].Type) >= len(o.Types) {
		return FuncType{}, false
	}
	return o.Types[o.Funcs[d].Type], true
}

// Symbol returns the index of the symbol named name, or -1. Undefined
// symbols are found too.
func (o *Object) Symbol(name string) int {
	for i := range o.Symbols {
		if o.Symbols[i].Name == name {
			return i
		}
	}
	return -1
}
