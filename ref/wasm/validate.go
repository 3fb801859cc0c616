package wasm

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds on what an object may declare. They are far above what compilers
// produce and keep a hostile file from making the reader or a linker
// allocate without limit.
const (
	// MaxLocals bounds the locals of one function (as web engines do).
	MaxLocals = 50000
	// MaxParams bounds the parameters and results of a signature.
	MaxParams = 1000
	// MaxAlign bounds a segment's log2 alignment.
	MaxAlign = 31
)

// CheckOptions relax Validate. They exist for tests that inject defects:
// the writer must be able to write the defective object so that the
// oracles downstream (wasm-ld, wasm-validate, wazero) are the ones that
// catch it.
type CheckOptions struct {
	// AllowUnpaddedLEB skips the check that every LEB field under a
	// relocation is padded to its full width (5 or 10 bytes).
	AllowUnpaddedLEB bool
}

// Validate checks that o is a consistent relocatable object: every index in
// range, every symbol well-formed, every relocation inside its owner's
// bytes, sorted, not overlapping, referring to a symbol of the right kind,
// and over a field of the right shape. The writer refuses objects that fail
// it and the reader returns only objects that pass it.
func (o *Object) Validate() error { return o.ValidateWith(CheckOptions{}) }

// ValidateWith is Validate with options.
func (o *Object) ValidateWith(opts CheckOptions) error {
	return o.validate(opts, nil)
}

func (o *Object) validate(opts CheckOptions, at func(loc) int) error {
	v := &validator{o: o, opts: opts, at: at}
	if err := v.check(); err != nil {
		return fmt.Errorf("%s: %w", o.Name, err)
	}
	return nil
}

type validator struct {
	o    *Object
	opts CheckOptions
	// at returns the file offset of an entity's encoding, or -1; the
	// reader sets it so that errors name the offset.
	at func(loc) int
	// index space sizes
	nfuncs, nglobals, ntables, nmems uint32
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// locKind names a kind of entity whose encoding has a file offset.
type locKind uint8

const (
	locNone locKind = iota
	locType
	locImport
	locFunc // a defined function (index into Funcs)
	locTable
	locMemory
	locGlobal
	locExport
	locElem
	locSegment
	locSymbol
	locInitFunc
	locCustom
	locFuncReloc    // I: function, J: relocation
	locSegmentReloc // I: segment, J: relocation
	locCustomReloc  // I: custom section, J: relocation
)

// loc is an entity of the object: the I-th of its kind (and J-th
// relocation of it).
type loc struct {
	Kind locKind
	I, J int
}

// errf returns a malformed-object error about the entity at l, naming its
// file offset when known.
func (v *validator) errf(l loc, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if v.at != nil {
		if off := v.at(l); off >= 0 {
			return fmt.Errorf("%w: offset %#x: %s", ErrMalformed, off, msg)
		}
	}
	return fmt.Errorf("%w: %s", ErrMalformed, msg)
}

func (v *validator) name(l loc, what, s string) error {
	if !utf8.ValidString(s) {
		return v.errf(l, "%s %q is not valid UTF-8", what, s)
	}
	return nil
}

func (v *validator) limits(l loc, what string, lim Limits) error {
	if lim.HasMax && lim.Max < lim.Min {
		return v.errf(l, "%s: maximum %d below minimum %d", what, lim.Max, lim.Min)
	}
	return nil
}

func (v *validator) check() error {
	o := v.o
	for i, t := range o.Types {
		l := loc{Kind: locType, I: i}
		if len(t.Params) > MaxParams || len(t.Results) > MaxParams {
			return v.errf(l, "type %d: %d parameters and %d results, more than %d", i, len(t.Params), len(t.Results), MaxParams)
		}
		for _, p := range t.Params {
			if !p.isValue() {
				return v.errf(l, "type %d: bad value type %#x", i, byte(p))
			}
		}
		for _, p := range t.Results {
			if !p.isValue() {
				return v.errf(l, "type %d: bad value type %#x", i, byte(p))
			}
		}
	}
	for i, im := range o.Imports {
		l := loc{Kind: locImport, I: i}
		if err := v.name(l, fmt.Sprintf("import %d module", i), im.Module); err != nil {
			return err
		}
		if err := v.name(l, fmt.Sprintf("import %d name", i), im.Name); err != nil {
			return err
		}
		switch im.Kind {
		case ExternFunc:
			if int(im.Type) >= len(o.Types) {
				return v.errf(l, "import %d (%s.%s): type index %d out of range (%d types)", i, im.Module, im.Name, im.Type, len(o.Types))
			}
			v.nfuncs++
		case ExternTable:
			if !im.Table.Elem.isRef() {
				return v.errf(l, "import %d (%s.%s): table element type %v is not a reference type", i, im.Module, im.Name, im.Table.Elem)
			}
			if err := v.limits(l, fmt.Sprintf("import %d table", i), im.Table.Limits); err != nil {
				return err
			}
			v.ntables++
		case ExternMemory:
			if err := v.limits(l, fmt.Sprintf("import %d memory", i), im.Memory); err != nil {
				return err
			}
			v.nmems++
		case ExternGlobal:
			if !im.Global.Type.isValue() {
				return v.errf(l, "import %d (%s.%s): bad global type %#x", i, im.Module, im.Name, byte(im.Global.Type))
			}
			v.nglobals++
		default:
			return v.errf(l, "import %d (%s.%s): bad kind %d", i, im.Module, im.Name, im.Kind)
		}
	}
	for i, f := range o.Funcs {
		l := loc{Kind: locFunc, I: i}
		fi := int(v.nfuncs) + i
		if int(f.Type) >= len(o.Types) {
			return v.errf(l, "function %d: type index %d out of range (%d types)", fi, f.Type, len(o.Types))
		}
		total := uint64(0)
		for _, lg := range f.Locals {
			if !lg.Type.isValue() {
				return v.errf(l, "function %d: bad local type %#x", fi, byte(lg.Type))
			}
			total += uint64(lg.Count)
		}
		if total > MaxLocals {
			return v.errf(l, "function %d: %d locals, more than %d", fi, total, MaxLocals)
		}
		if len(f.Code) == 0 || f.Code[len(f.Code)-1] != opEnd {
			return v.errf(l, "function %d: code does not end with the end opcode", fi)
		}
	}
	v.nfuncs += uint32(len(o.Funcs))
	for i, t := range o.Tables {
		l := loc{Kind: locTable, I: i}
		if !t.Elem.isRef() {
			return v.errf(l, "table %d: element type %v is not a reference type", int(v.ntables)+i, t.Elem)
		}
		if err := v.limits(l, fmt.Sprintf("table %d", int(v.ntables)+i), t.Limits); err != nil {
			return err
		}
	}
	v.ntables += uint32(len(o.Tables))
	for i, m := range o.Memories {
		if err := v.limits(loc{Kind: locMemory, I: i}, fmt.Sprintf("memory %d", int(v.nmems)+i), m); err != nil {
			return err
		}
	}
	v.nmems += uint32(len(o.Memories))
	if v.nmems > 1 {
		return fmt.Errorf("%w: %d memories (multi-memory)", ErrUnsupported, v.nmems)
	}
	for i, g := range o.Globals {
		l := loc{Kind: locGlobal, I: i}
		if !g.Type.Type.isValue() {
			return v.errf(l, "global %d: bad type %#x", int(v.nglobals)+i, byte(g.Type.Type))
		}
		if err := checkConstExpr(g.Init); err != nil {
			return v.errf(l, "global %d: initializer: %v", int(v.nglobals)+i, err)
		}
	}
	v.nglobals += uint32(len(o.Globals))
	seen := make(map[string]bool, len(o.Exports))
	for i, e := range o.Exports {
		l := loc{Kind: locExport, I: i}
		if err := v.name(l, fmt.Sprintf("export %d", i), e.Name); err != nil {
			return err
		}
		if seen[e.Name] {
			return v.errf(l, "export %d: duplicate name %q", i, e.Name)
		}
		seen[e.Name] = true
		if !v.inRange(e.Kind, e.Index) {
			return v.errf(l, "export %q: %s index %d out of range", e.Name, e.Kind, e.Index)
		}
	}
	for i, e := range o.Elems {
		l := loc{Kind: locElem, I: i}
		if v.ntables == 0 {
			return v.errf(l, "element segment %d: no table", i)
		}
		for _, f := range e.Funcs {
			if f >= v.nfuncs {
				return v.errf(l, "element segment %d: function index %d out of range (%d functions)", i, f, v.nfuncs)
			}
		}
	}
	for i, s := range o.Segments {
		l := loc{Kind: locSegment, I: i}
		if err := v.name(l, fmt.Sprintf("segment %d name", i), s.Name); err != nil {
			return err
		}
		if s.Align > MaxAlign {
			return v.errf(l, "segment %d (%s): alignment 2^%d exceeds 2^%d", i, s.Name, s.Align, MaxAlign)
		}
		if s.Flags&^(SegmentStrings|SegmentTLS|SegmentRetain) != 0 {
			return v.errf(l, "segment %d (%s): unknown flags %#x", i, s.Name, s.Flags)
		}
		if !s.Passive && v.nmems == 0 {
			return v.errf(l, "segment %d (%s): active segment without a memory", i, s.Name)
		}
	}
	if err := v.checkSymbols(); err != nil {
		return err
	}
	for i, f := range o.InitFuncs {
		if int(f.Symbol) >= len(o.Symbols) || o.Symbols[f.Symbol].Kind != SymFunction {
			return v.errf(loc{Kind: locInitFunc, I: i}, "init function %d: symbol %d is not a function symbol", i, f.Symbol)
		}
	}
	for i, f := range o.Funcs {
		if err := v.checkRelocs(locFuncReloc, i, fmt.Sprintf("function %d", int(v.nfuncs)-len(o.Funcs)+i), f.Relocs, f.Code); err != nil {
			return err
		}
	}
	for i, s := range o.Segments {
		if err := v.checkRelocs(locSegmentReloc, i, fmt.Sprintf("segment %d (%s)", i, s.Name), s.Relocs, s.Data); err != nil {
			return err
		}
	}
	for i, c := range o.Customs {
		l := loc{Kind: locCustom, I: i}
		if err := v.name(l, fmt.Sprintf("custom section %d", i), c.Name); err != nil {
			return err
		}
		if c.Name == "linking" || strings.HasPrefix(c.Name, "reloc.") {
			return v.errf(l, "custom section %d: name %q is reserved for the linking metadata", i, c.Name)
		}
		if err := v.checkRelocs(locCustomReloc, i, "custom section "+c.Name, c.Relocs, c.Data); err != nil {
			return err
		}
	}
	return nil
}

func (v *validator) inRange(k ExternKind, i uint32) bool {
	switch k {
	case ExternFunc:
		return i < v.nfuncs
	case ExternTable:
		return i < v.ntables
	case ExternMemory:
		return i < v.nmems
	case ExternGlobal:
		return i < v.nglobals
	}
	return false
}

// importIndex lists, for each import kind, the positions in Imports of
// the imports of that kind: entity i of kind k, when imported, is
// Imports[importIndex[k][i]].
type importIndex [4][]int

func (o *Object) importIndex() *importIndex {
	var x importIndex
	for j := range o.Imports {
		if k := o.Imports[j].Kind; int(k) < len(x) {
			x[k] = append(x[k], j)
		}
	}
	return &x
}

// of returns the import that is entity i of kind k, or nil when i is a
// defined entity.
func (x *importIndex) of(o *Object, k ExternKind, i uint32) *Import {
	if int(k) >= len(x) || uint64(i) >= uint64(len(x[k])) {
		return nil
	}
	return &o.Imports[x[k][i]]
}

func (v *validator) checkSymbols() error {
	o := v.o
	imports := o.importIndex()
	for i := range o.Symbols {
		s := &o.Symbols[i]
		l := loc{Kind: locSymbol, I: i}
		if err := v.name(l, fmt.Sprintf("symbol %d", i), s.Name); err != nil {
			return err
		}
		if s.Flags&^symKnownFlags != 0 {
			return v.errf(l, "symbol %d (%s): unknown flags %#x", i, s.Name, s.Flags&^symKnownFlags)
		}
		if s.Flags&SymBindingWeak != 0 && s.Flags&SymBindingLocal != 0 {
			return v.errf(l, "symbol %d (%s): both weak and local", i, s.Name)
		}
		if s.Undefined() && s.Local() {
			return v.errf(l, "symbol %d (%s): undefined and local", i, s.Name)
		}
		switch s.Kind {
		case SymFunction, SymGlobal, SymTable:
			k, n := ExternFunc, v.nfuncs
			switch s.Kind {
			case SymGlobal:
				k, n = ExternGlobal, v.nglobals
			case SymTable:
				k, n = ExternTable, v.ntables
			}
			if s.Index >= n {
				return v.errf(l, "symbol %d (%s): %s index %d out of range (%d)", i, s.Name, k, s.Index, n)
			}
			im := imports.of(o, k, s.Index)
			if s.Undefined() != (im != nil) {
				if s.Undefined() {
					return v.errf(l, "symbol %d (%s): undefined, but %s %d is not an import", i, s.Name, k, s.Index)
				}
				return v.errf(l, "symbol %d (%s): defined, but %s %d is an import", i, s.Name, k, s.Index)
			}
			if im != nil && s.Flags&SymExplicitName == 0 && s.Name != im.Name {
				return v.errf(l, "symbol %d: name %q differs from its import's %q without WASM_SYM_EXPLICIT_NAME", i, s.Name, im.Name)
			}
			if s.Segment != 0 || s.Offset != 0 || s.Size != 0 {
				return v.errf(l, "symbol %d (%s): a %s symbol has a segment, offset or size", i, s.Name, s.Kind)
			}
		case SymData:
			if s.Index != 0 {
				return v.errf(l, "symbol %d (%s): a data symbol has an index", i, s.Name)
			}
			if s.Undefined() {
				if s.Segment != 0 || s.Offset != 0 || s.Size != 0 {
					return v.errf(l, "symbol %d (%s): undefined data symbol with a segment, offset or size", i, s.Name)
				}
				break
			}
			if int(s.Segment) >= len(o.Segments) {
				return v.errf(l, "symbol %d (%s): segment %d out of range (%d segments)", i, s.Name, s.Segment, len(o.Segments))
			}
			if end := uint64(s.Offset) + uint64(s.Size); end > uint64(len(o.Segments[s.Segment].Data)) {
				return v.errf(l, "symbol %d (%s): [%#x, +%#x) past the end of segment %s (size %#x)", i, s.Name, s.Offset, s.Size, o.Segments[s.Segment].Name, len(o.Segments[s.Segment].Data))
			}
		case SymSection:
			if s.Name != "" || s.Segment != 0 || s.Offset != 0 || s.Size != 0 {
				return v.errf(l, "symbol %d: a section symbol has a name, segment, offset or size", i)
			}
			if !s.Local() {
				return v.errf(l, "symbol %d: section symbol is not local", i)
			}
			if int(s.Index) >= len(o.Customs) {
				return v.errf(l, "symbol %d: custom section %d out of range (%d custom sections)", i, s.Index, len(o.Customs))
			}
		case SymTag:
			return fmt.Errorf("%w: symbol %d (%s): tag symbols (exception handling)", ErrUnsupported, i, s.Name)
		default:
			return v.errf(l, "symbol %d (%s): bad kind %d", i, s.Name, s.Kind)
		}
	}
	return nil
}

// checkRelocs checks the relocations of one owner (what names it) against
// the bytes they patch.
func (v *validator) checkRelocs(kind locKind, owner int, what string, rs []Reloc, data []byte) error {
	end := uint64(0)
	for i, r := range rs {
		l := loc{Kind: kind, I: owner, J: i}
		if !r.Type.Known() {
			return v.errf(l, "%s: relocation %d: unknown type %d", what, i, r.Type)
		}
		size := uint64(r.Type.FieldSize())
		if uint64(r.Offset) < end {
			return v.errf(l, "%s: relocation %d (%s at %#x): not sorted by offset or overlaps the previous one (ending at %#x)", what, i, r.Type, r.Offset, end)
		}
		end = uint64(r.Offset) + size
		if end > uint64(len(data)) {
			return v.errf(l, "%s: relocation %d (%s at %#x): field of %d bytes past the end (size %#x)", what, i, r.Type, r.Offset, size, len(data))
		}
		if !r.Type.HasAddend() && r.Addend != 0 {
			return v.errf(l, "%s: relocation %d (%s at %#x): addend %d on a type without addend", what, i, r.Type, r.Offset, r.Addend)
		}
		if r.Type.IsLEB() && !v.opts.AllowUnpaddedLEB && !isPaddedLEB(data[r.Offset:], int(size)) {
			return v.errf(l, "%s: relocation %d (%s at %#x): the field % x is not a %d-byte padded LEB128", what, i, r.Type, r.Offset, data[r.Offset:end], size)
		}
		kind, isSym := r.Type.TargetKind()
		if !isSym {
			if int(r.Index) >= len(v.o.Types) {
				return v.errf(l, "%s: relocation %d (%s at %#x): type index %d out of range (%d types)", what, i, r.Type, r.Offset, r.Index, len(v.o.Types))
			}
			continue
		}
		if int(r.Index) >= len(v.o.Symbols) {
			return v.errf(l, "%s: relocation %d (%s at %#x): symbol index %d out of range (%d symbols)", what, i, r.Type, r.Offset, r.Index, len(v.o.Symbols))
		}
		if s := &v.o.Symbols[r.Index]; s.Kind != kind {
			return v.errf(l, "%s: relocation %d (%s at %#x): symbol %d (%s) is a %s symbol, want %s", what, i, r.Type, r.Offset, r.Index, s.Name, s.Kind, kind)
		}
	}
	return nil
}

// Opcodes used by the package.
const (
	opEnd       = 0x0b
	opGlobalGet = 0x23
	opI32Const  = 0x41
	opI64Const  = 0x42
	opF32Const  = 0x43
	opF64Const  = 0x44
	opRefNull   = 0xd0
	opRefFunc   = 0xd2
)

// checkConstExpr checks a constant expression without its end: one
// constant instruction.
func checkConstExpr(b []byte) error {
	n, err := constExprLen(b)
	if err != nil {
		return err
	}
	if n != len(b) {
		return fmt.Errorf("%d trailing bytes after the constant instruction", len(b)-n)
	}
	return nil
}

// constExprLen returns the length of the constant instruction at b[0].
func constExprLen(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, fmt.Errorf("empty constant expression")
	}
	var n int
	var err error
	switch b[0] {
	case opI32Const:
		_, n, err = readSLEB(b[1:], 32)
	case opI64Const:
		_, n, err = readSLEB(b[1:], 64)
	case opF32Const:
		n = 4
	case opF64Const:
		n = 8
	case opGlobalGet, opRefFunc:
		_, n, err = readULEB(b[1:], 32)
	case opRefNull:
		n = 1
	default:
		return 0, fmt.Errorf("opcode %#x is not a constant instruction", b[0])
	}
	if err != nil {
		return 0, err
	}
	if 1+n > len(b) {
		return 0, fmt.Errorf("truncated constant instruction")
	}
	return 1 + n, nil
}
