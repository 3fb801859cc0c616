// Package wasmgen lowers a .lir program to WebAssembly MVP code in Wasm
// relocatable objects (package ref/wasm), one object per unit, laid out
// as clang-16 -c lays out its objects, so that wasm-ld links them and
// wazero runs the result to the interpreter's value.
//
// The code is deliberately naive and obviously correct, like ref/codegen's
// for x86_64: every value is an i64 on the operand stack, every parameter
// and local lives in an 8-byte slot of the function's frame on the
// linear-memory stack (reached through the imported global
// __stack_pointer, as clang's shadow stack is), and every reference to
// another symbol is a relocation over a 5-byte padded LEB128 or a 4-byte
// field:
//
//   - a direct call is `call` with R_WASM_FUNCTION_INDEX_LEB;
//   - an indirect call is `call_indirect` with R_WASM_TYPE_INDEX_LEB (the
//     signature of its arity: every function has type (i64^n) -> i64, so
//     the engine's signature check is an arity check) through the imported
//     __indirect_function_table;
//   - the address of a function is its table index (`i32.const` with
//     R_WASM_TABLE_INDEX_SLEB; in data R_WASM_TABLE_INDEX_I32), the address
//     of a global its memory address (R_WASM_MEMORY_ADDR_SLEB; in data
//     R_WASM_MEMORY_ADDR_I32), both zero-extended to i64;
//   - globals are 8-byte data segments read and written with i64.load and
//     i64.store whose offset immediate carries R_WASM_MEMORY_ADDR_LEB;
//   - the error-name table is Zig's layout (seed 001): a blob of
//     NUL-terminated names, a table of {ptr,len} u32 slices whose ptr is an
//     R_WASM_MEMORY_ADDR_I32 into the blob, and a u32 count, made only for
//     programs that declare errors or use errlen/errbyte.
//
// The entry `_start` () -> i64, exported, gives the program its own stack
// of StackSize bytes above the linker's __heap_base (growing memory when
// needed), calls main and returns its value; every function traps when its
// frame would fall below __heap_base, so a stack overflow is a trap, never a
// silent corruption of data.
package wasmgen

import (
	"fmt"

	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/wasm"
)

// Reserved symbol names. Program identifiers cannot start with an
// underscore, so these never collide with a program's names.
const (
	// EntrySymbol is the exported entry: () -> i64, the program's value.
	EntrySymbol = "_start"
	// MainSymbol is the program's main function.
	MainSymbol = "main"
	// StackPointerSymbol is the linker-defined stack pointer global,
	// imported by every object as clang does.
	StackPointerSymbol = "__stack_pointer"
	// StackBaseSymbol is the linker-defined end of static data and of the
	// linker's stack; the program's stack lies above it.
	StackBaseSymbol = "__heap_base"
	// TableName is the imported indirect function table.
	TableName = "__indirect_function_table"
	// MemoryName is the imported linear memory.
	MemoryName = "__linear_memory"
	// ErrNamesSymbol is the blob of NUL-terminated error names.
	ErrNamesSymbol = "_lc_err_names"
	// ErrTableSymbol is the table of {ptr,len} slices, one per error.
	ErrTableSymbol = "_lc_err_table"
	// ErrorsLenSymbol is the number of errors, a u32.
	ErrorsLenSymbol = "_lc_errors_len"
	// ImportModule is the module name of every import.
	ImportModule = "env"
)

// StackSize is the size of the program's linear-memory stack: 10,000
// frames of 800 bytes (100 slots) fit, far more than generated code needs.
const StackSize = 8 << 20

// maxFrame bounds one function's frame.
const maxFrame = 1 << 16

// Options change how code is generated.
type Options struct {
	// Faults plants the catalogue's Wasm defects (ref/fault: the Wasm*
	// entries; tests only). Each changes a single place (the first one
	// found) or a table, and leaves everything else correct.
	Faults fault.Set
}

// CheckOptions are the object checks the writer must apply to objects
// built with o: relaxed only when a fault requires it.
func (o Options) CheckOptions() wasm.CheckOptions {
	return wasm.CheckOptions{AllowUnpaddedLEB: o.Faults.Has(fault.WasmUnpaddedLEB)}
}

// Program is a compiled program before it is split into units.
type Program struct {
	m        *ir.Module
	opts     Options
	entry    *funcCode
	funcs    []*funcCode // declaration order
	errTable bool
	// MaxFrame is the largest frame of any function, in bytes.
	MaxFrame uint32
}

// Compile lowers m. The module must have passed the checker.
func Compile(m *ir.Module, opts Options) (*Program, error) {
	return compileWith(m, opts, compileFunc, nil)
}

// compileWith is Compile lowering each function with lower; done, when
// set, is given the functions' code in declaration order.
func compileWith(m *ir.Module, opts Options, lower func(*ir.Func, *env) (*funcCode, error), done func(*ir.Module, *env, []*funcCode)) (*Program, error) {
	if m.Func(MainSymbol) == nil {
		return nil, fmt.Errorf("wasmgen: program has no main function")
	}
	e := newEnv(m, opts.Faults)
	p := &Program{m: m, opts: opts, entry: entryStub(), errTable: len(m.Errors) > 0}
	for _, f := range m.Funcs {
		fc, err := lower(f, e)
		if err != nil {
			return nil, err
		}
		p.errTable = p.errTable || fc.UsesErrors
		p.MaxFrame = max(p.MaxFrame, fc.FrameSize)
		p.funcs = append(p.funcs, fc)
	}
	if done != nil {
		done(m, e, p.funcs)
	}
	return p, nil
}

// Build compiles m and splits it into units objects named by names, the
// whole path from a checked module to Wasm relocatable objects; unitOf
// assigns every function and global to a unit (ir.Partition). The entry
// and the error table go to unit 0.
func Build(m *ir.Module, unitOf map[string]int, units int, names func(unit int) string) ([]*wasm.Object, error) {
	return BuildWith(m, unitOf, units, names, Options{})
}

// BuildWith is Build with options.
func BuildWith(m *ir.Module, unitOf map[string]int, units int, names func(unit int) string, opts Options) ([]*wasm.Object, error) {
	p, err := Compile(m, opts)
	if err != nil {
		return nil, err
	}
	return p.Objects(unitOf, units, names)
}

// BuildFiles is BuildWith followed by wasm.WriteObjectWith for each
// object: the serialized objects in unit order.
func BuildFiles(m *ir.Module, unitOf map[string]int, units int, names func(unit int) string, opts Options) ([][]byte, error) {
	objs, err := BuildWith(m, unitOf, units, names, opts)
	if err != nil {
		return nil, err
	}
	files := make([][]byte, len(objs))
	for i, o := range objs {
		if files[i], err = wasm.WriteObjectWith(o, opts.CheckOptions()); err != nil {
			return nil, fmt.Errorf("wasmgen: %w", err)
		}
	}
	return files, nil
}

// Objects splits the program into units objects.
func (p *Program) Objects(unitOf map[string]int, units int, names func(unit int) string) ([]*wasm.Object, error) {
	if units < 1 {
		return nil, fmt.Errorf("wasmgen: %d units: need at least 1", units)
	}
	unit := func(name string) (int, error) {
		u, ok := unitOf[name]
		if !ok {
			return 0, fmt.Errorf("wasmgen: no unit for %q", name)
		}
		if u < 0 || u >= units {
			return 0, fmt.Errorf("wasmgen: unit %d of %q out of range 0..%d", u, name, units-1)
		}
		return u, nil
	}
	funcs := make([][]*funcCode, units)
	data := make([][]*datum, units)
	funcs[0] = append(funcs[0], p.entry)
	for _, f := range p.funcs {
		u, err := unit(f.Name)
		if err != nil {
			return nil, err
		}
		funcs[u] = append(funcs[u], f)
	}
	arity := make(map[string]int, len(p.funcs)+1)
	for _, f := range p.funcs {
		arity[f.Name] = f.Arity
	}
	for _, g := range p.m.Globals {
		u, err := unit(g.Name)
		if err != nil {
			return nil, err
		}
		_, isFunc := arity[g.Init.Addr]
		data[u] = append(data[u], globalDatum(g, isFunc))
	}
	arity[EntrySymbol] = 0
	if p.errTable {
		data[0] = append(data[0], errorTable(p.m.Errors, p.opts.Faults.Has(fault.WasmErrLenOffByOne))...)
	}
	objs := make([]*wasm.Object, units)
	for u := range objs {
		o, err := buildObject(names(u), funcs[u], data[u], arity)
		if err != nil {
			return nil, err
		}
		objs[u] = o
	}
	return objs, nil
}

// entryStub is _start: it gives the program a stack of StackSize bytes
// above __heap_base, calls main and returns its value.
func entryStub() *funcCode {
	g := &gen{}
	const save, pages, result = 0, 1, 2
	top := func() {
		g.op(opI32Const)
		g.relocs = append(g.relocs, symReloc{Type: wasm.RMemoryAddrSLEB, Offset: uint32(len(g.code)), Sym: StackBaseSymbol, Addend: StackSize})
		g.code = wasm.AppendPaddedSLEB(g.code, 0)
	}
	// pages = (top + 0xffff) >> 16; grow memory to that many pages.
	top()
	g.op(opI32Const)
	g.sleb(0xffff)
	g.op(opI32Add, opI32Const, 16, opI32ShrU, opLocalTee, pages)
	g.op(opMemorySize, 0, opI32GtU, opIf, blockVoid)
	g.op(opLocalGet, pages, opMemorySize, 0, opI32Sub, opMemoryGrow, 0)
	g.op(opI32Const, 0x7f, opI32Eq, opIf, blockVoid, opUnreachable, opEnd, opEnd)
	g.stackPointer(opGlobalGet)
	g.op(opLocalSet, save)
	top()
	g.stackPointer(opGlobalSet)
	g.op(opCall)
	g.reloc(wasm.RFunctionIndexLEB, MainSymbol, 0)
	g.op(opLocalSet, result, opLocalGet, save)
	g.stackPointer(opGlobalSet)
	g.op(opLocalGet, result, opEnd)
	return &funcCode{
		Name:   EntrySymbol,
		Locals: []wasm.LocalGroup{{Count: 2, Type: wasm.I32}, {Count: 1, Type: wasm.I64}},
		Code:   g.code,
		Relocs: g.relocs,
		refs:   summarize(g.relocs),
	}
}

// datum is one data segment with its symbol.
type datum struct {
	Name    string // symbol
	Segment string // segment name
	Align   uint32 // log2
	Data    []byte
	Relocs  []symReloc
}

// globalDatum is g's datum; isFunc tells whether its initializer is the
// address of a function.
func globalDatum(g *ir.Global, isFunc bool) *datum {
	d := &datum{Name: g.Name, Align: 3, Data: make([]byte, 8)}
	switch {
	case g.Const:
		d.Segment = ".rodata." + g.Name
	case g.Init.Addr == "" && g.Init.Value == 0:
		d.Segment = ".bss." + g.Name
	default:
		d.Segment = ".data." + g.Name
	}
	if g.Init.Addr != "" {
		t := wasm.RMemoryAddrI32
		if isFunc {
			t = wasm.RTableIndexI32
		}
		d.Relocs = []symReloc{{Type: t, Offset: 0, Sym: g.Init.Addr}}
	} else {
		putU32(d.Data, uint32(g.Init.Value))
		putU32(d.Data[4:], uint32(g.Init.Value>>32))
	}
	return d
}

// errorTable returns the three data of the error-name table: the names,
// the {ptr,len} slices, the count.
func errorTable(names []string, lenOffByOne bool) []*datum {
	size := 0
	for _, n := range names {
		size += len(n) + 1
	}
	blob := &datum{Name: ErrNamesSymbol, Segment: ".rodata." + ErrNamesSymbol, Align: 0}
	if size > 0 {
		blob.Data = make([]byte, 0, size)
	}
	tab := &datum{Name: ErrTableSymbol, Segment: ".rodata." + ErrTableSymbol, Align: 2, Data: make([]byte, 8*len(names))}
	if len(names) > 0 {
		tab.Relocs = make([]symReloc, 0, len(names))
	}
	for i, n := range names {
		tab.Relocs = append(tab.Relocs, symReloc{Type: wasm.RMemoryAddrI32, Offset: uint32(8 * i), Sym: ErrNamesSymbol, Addend: int32(len(blob.Data))})
		l := uint32(len(n))
		if lenOffByOne {
			l++
		}
		putU32(tab.Data[8*i+4:], l)
		blob.Data = append(append(blob.Data, n...), 0)
	}
	count := &datum{Name: ErrorsLenSymbol, Segment: ".rodata." + ErrorsLenSymbol, Align: 2, Data: make([]byte, 4)}
	putU32(count.Data, uint32(len(names)))
	return []*datum{blob, tab, count}
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// builder assembles one unit's object.
type builder struct {
	o        *wasm.Object
	typeOf   map[int]uint32    // arity -> type index
	funcIdx  map[string]uint32 // function index space
	symIdx   map[string]uint32
	elemIdx  map[string]uint32 // table index (1-based, as LLVM numbers its elem entries)
	dataAddr map[string]uint32 // object-local address of defined data
	elems    []string
	spSym    uint32
	// rels is the array the relocations of the object's functions and
	// data are cut from.
	rels []wasm.Reloc
}

func (b *builder) typeIndex(arity int) uint32 {
	if t, ok := b.typeOf[arity]; ok {
		return t
	}
	ft := wasm.FuncType{Results: []wasm.ValType{wasm.I64}}
	for i := 0; i < arity; i++ {
		ft.Params = append(ft.Params, wasm.I64)
	}
	t := uint32(len(b.o.Types))
	b.o.Types = append(b.o.Types, ft)
	b.typeOf[arity] = t
	return t
}

// buildObject makes the object of one unit: its functions (in order) and
// data, importing what they reference but do not define. arity holds
// every function of the program.
func buildObject(name string, funcs []*funcCode, data []*datum, arity map[string]int) (*wasm.Object, error) {
	n := len(funcs) + len(data)
	b := &builder{
		o: &wasm.Object{Name: name}, typeOf: make(map[int]uint32, 1+ir.MaxParams),
		funcIdx: make(map[string]uint32, len(funcs)), symIdx: make(map[string]uint32, n), elemIdx: map[string]uint32{},
		dataAddr: make(map[string]uint32, len(data)),
	}
	o := b.o
	// known holds the symbols the unit defines, then those it references
	// but does not define as they are seen.
	known := make(map[string]bool, n)
	for _, f := range funcs {
		known[f.Name] = true
	}
	for _, d := range data {
		known[d.Name] = true
	}
	// What the unit references but does not define, in first-reference
	// order; whether it needs the stack pointer and the table.
	var undefFuncs, undefData []string
	noteSym := func(sym string) {
		if known[sym] {
			return
		}
		known[sym] = true
		if _, ok := arity[sym]; ok {
			undefFuncs = append(undefFuncs, sym)
		} else {
			undefData = append(undefData, sym)
		}
	}
	needSP, needTable := false, false
	note := func(r symReloc) {
		switch r.Type {
		case wasm.RGlobalIndexLEB:
			needSP = true
			return
		case wasm.RTypeIndexLEB:
			needTable = true
			b.typeIndex(r.Arity)
			return
		case wasm.RTableIndexSLEB, wasm.RTableIndexI32:
			needTable = true
			if _, ok := b.elemIdx[r.Sym]; !ok {
				b.elems = append(b.elems, r.Sym)
				b.elemIdx[r.Sym] = uint32(len(b.elems))
			}
		}
		noteSym(r.Sym)
	}
	for _, f := range funcs {
		// f.refs is what note would learn from f.Relocs, one by one.
		needSP = needSP || f.refs.stackPointer
		for _, a := range f.refs.types {
			needTable = true
			b.typeIndex(a)
		}
		for _, e := range f.refs.elems {
			needTable = true
			if _, ok := b.elemIdx[e]; !ok {
				b.elems = append(b.elems, e)
				b.elemIdx[e] = uint32(len(b.elems))
			}
		}
		for _, s := range f.refs.syms {
			noteSym(s)
		}
	}
	for _, d := range data {
		for _, r := range d.Relocs {
			note(r)
		}
	}
	dataSize := uint32(0)
	for _, d := range data {
		a := uint32(1) << d.Align
		dataSize = (dataSize + a - 1) &^ (a - 1)
		b.dataAddr[d.Name] = dataSize
		dataSize += uint32(len(d.Data))
	}

	// Imports, as clang orders them: memory, stack pointer, functions,
	// table.
	o.Imports = append(o.Imports, wasm.Import{Module: ImportModule, Name: MemoryName, Kind: wasm.ExternMemory, Memory: wasm.Limits{Min: (dataSize + 0xffff) >> 16}})
	if needSP {
		o.Imports = append(o.Imports, wasm.Import{Module: ImportModule, Name: StackPointerSymbol, Kind: wasm.ExternGlobal, Global: wasm.GlobalType{Type: wasm.I32, Mutable: true}})
	}
	for _, n := range undefFuncs {
		b.funcIdx[n] = uint32(len(b.funcIdx))
		o.Imports = append(o.Imports, wasm.Import{Module: ImportModule, Name: n, Kind: wasm.ExternFunc, Type: b.typeIndex(arity[n])})
	}
	if needTable {
		o.Imports = append(o.Imports, wasm.Import{Module: ImportModule, Name: TableName, Kind: wasm.ExternTable, Table: wasm.TableType{Elem: wasm.FuncRef, Limits: wasm.Limits{Min: uint32(len(b.elems))}}})
	}
	for _, f := range funcs {
		b.funcIdx[f.Name] = uint32(len(b.funcIdx))
	}

	// Symbols: defined functions, defined data, undefined functions,
	// undefined data, the stack pointer.
	if n := len(funcs) + len(data) + len(undefFuncs) + len(undefData) + 1; n > 1 {
		o.Symbols = make([]wasm.Symbol, 0, n)
	}
	for _, f := range funcs {
		flags := uint32(wasm.SymVisibilityHidden)
		switch {
		case f.Local:
			flags = wasm.SymBindingLocal
		case f.Name == EntrySymbol:
			flags |= wasm.SymExported | wasm.SymNoStrip
		}
		b.symIdx[f.Name] = uint32(len(o.Symbols))
		o.Symbols = append(o.Symbols, wasm.Symbol{Kind: wasm.SymFunction, Name: f.Name, Flags: flags, Index: b.funcIdx[f.Name]})
	}
	for i, d := range data {
		b.symIdx[d.Name] = uint32(len(o.Symbols))
		o.Symbols = append(o.Symbols, wasm.Symbol{Kind: wasm.SymData, Name: d.Name, Flags: wasm.SymVisibilityHidden, Segment: uint32(i), Size: uint32(len(d.Data))})
	}
	for _, n := range undefFuncs {
		b.symIdx[n] = uint32(len(o.Symbols))
		o.Symbols = append(o.Symbols, wasm.Symbol{Kind: wasm.SymFunction, Name: n, Flags: wasm.SymUndefined, Index: b.funcIdx[n]})
	}
	for _, n := range undefData {
		b.symIdx[n] = uint32(len(o.Symbols))
		o.Symbols = append(o.Symbols, wasm.Symbol{Kind: wasm.SymData, Name: n, Flags: wasm.SymUndefined})
	}
	if needSP {
		b.spSym = uint32(len(o.Symbols))
		o.Symbols = append(o.Symbols, wasm.Symbol{Kind: wasm.SymGlobal, Name: StackPointerSymbol, Flags: wasm.SymUndefined, Index: 0})
	}

	// The functions' code and the data are copied into one buffer, and
	// their relocations cut from one array.
	size, nrel := 0, 0
	for _, f := range funcs {
		size, nrel = size+len(f.Code), nrel+len(f.Relocs)
	}
	for _, d := range data {
		size, nrel = size+len(d.Data), nrel+len(d.Relocs)
	}
	buf := make([]byte, 0, size)
	b.rels = make([]wasm.Reloc, 0, nrel)
	cut := func(bytes []byte) []byte {
		l := len(buf)
		buf = append(buf, bytes...)
		return buf[l:len(buf):len(buf)]
	}
	o.Funcs = make([]wasm.Function, 0, len(funcs))
	for _, f := range funcs {
		code := cut(f.Code)
		relocs, err := b.relocate(code, f.Relocs)
		if err != nil {
			return nil, fmt.Errorf("wasmgen: %s: func %s: %w", name, f.Name, err)
		}
		o.Funcs = append(o.Funcs, wasm.Function{Type: b.typeIndex(f.Arity), Locals: f.Locals, Code: code, Relocs: relocs})
	}
	o.Segments = make([]wasm.Segment, 0, len(data))
	for _, d := range data {
		bytes := cut(d.Data)
		relocs, err := b.relocate(bytes, d.Relocs)
		if err != nil {
			return nil, fmt.Errorf("wasmgen: %s: %s: %w", name, d.Name, err)
		}
		o.Segments = append(o.Segments, wasm.Segment{Name: d.Segment, Align: d.Align, Offset: b.dataAddr[d.Name], Data: bytes, Relocs: relocs})
	}
	o.DataCount = len(o.Segments) > 0
	if len(b.elems) > 0 {
		e := wasm.Elem{Offset: 1}
		for _, n := range b.elems {
			e.Funcs = append(e.Funcs, b.funcIdx[n])
		}
		o.Elems = []wasm.Elem{e}
	}
	return o, nil
}

// relocate turns named relocations into symbol-indexed ones and writes
// into each field the value it has in this object alone (the function's
// index, the table index of its elem entry, the datum's object-local
// address), as LLVM does, so that the object is a valid module.
func (b *builder) relocate(bytes []byte, rs []symReloc) ([]wasm.Reloc, error) {
	l := len(b.rels)
	out := b.rels[l : l : l+len(rs)]
	b.rels = b.rels[:l+len(rs)]
	for _, r := range rs {
		wr := wasm.Reloc{Type: r.Type, Offset: r.Offset, Addend: r.Addend}
		var value uint32
		switch r.Type {
		case wasm.RTypeIndexLEB:
			wr.Index = b.typeIndex(r.Arity)
			value = wr.Index
		case wasm.RGlobalIndexLEB:
			wr.Index = b.spSym
			value = 0 // __stack_pointer is global 0, the only global
		default:
			idx, ok := b.symIdx[r.Sym]
			if !ok {
				return nil, fmt.Errorf("relocation against unknown symbol %q", r.Sym)
			}
			wr.Index = idx
			switch r.Type {
			case wasm.RFunctionIndexLEB:
				value = b.funcIdx[r.Sym]
			case wasm.RTableIndexSLEB, wasm.RTableIndexI32:
				value = b.elemIdx[r.Sym]
			default: // memory addresses
				value = b.dataAddr[r.Sym] + uint32(r.Addend)
			}
		}
		field := bytes[r.Offset:]
		switch r.Type {
		case wasm.RTableIndexI32, wasm.RMemoryAddrI32:
			putU32(field, value)
		case wasm.RTableIndexSLEB, wasm.RMemoryAddrSLEB:
			wasm.PutPaddedSLEB(field, int32(value))
		default:
			if field[0]&0x80 == 0 {
				// An unpadded field (the UnpaddedCallLEB fault): one byte.
				field[0] = byte(value & 0x7f)
			} else {
				wasm.PutPaddedULEB(field, value)
			}
		}
		out = append(out, wr)
	}
	return out, nil
}
