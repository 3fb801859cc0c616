package wasm

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/linkcheck/linkcheck/ref/fault"
)

// The reference Wasm linker: Wasm relocatable objects into a module, as
// wasm-ld 16 links them with `--no-entry --export=_start` (docs/wasm.md,
// "The reference linker"). Wasm has no addresses for code: functions are
// numbered, so this linker does not use ref/link's address layout; it
// assigns index spaces, lays out linear memory and patches the relocated
// fields in place.

// Layout constants of wasm-ld 16's defaults.
const (
	// GlobalBase is where static data starts in linear memory
	// (--global-base).
	GlobalBase = 1024
	// StackSize is the size of wasm-ld's stack (-z stack-size).
	StackSize = 64 << 10
	// TableBase is the first table slot handed out (--table-base): slot 0
	// stays null.
	TableBase = 1
	// PageSize is the Wasm page.
	PageSize   = 64 << 10
	stackAlign = 16
	heapAlign  = 16
)

// EntryName is the symbol the reference linker exports, as
// `--export=_start` does.
const EntryName = "_start"

// LinkOptions change a link.
type LinkOptions struct {
	// Faults plants deliberate defects (fault-injection tests only).
	Faults fault.Set
}

// Linked is a linked module with what the linker decided, for the
// canonical reader and tests.
type Linked struct {
	// Module is the serialized module.
	Module []byte
	// Funcs names each function of the output index space, in order.
	Funcs []string
	// Table lists the function index of each table slot from TableBase.
	Table []uint32
	// Segments are the output data segments, in layout order (a .bss
	// segment is laid out but not written).
	Segments []LinkedSegment
	// Data is the address of every live global data symbol and of the
	// linker-defined ones (__heap_base, ...).
	Data map[string]uint32
	// StackPointer is __stack_pointer's initial value; HeapBase and
	// DataEnd are __heap_base and __data_end.
	StackPointer, HeapBase, DataEnd uint32
}

// LinkedSegment is one output data segment.
type LinkedSegment struct {
	Name    string
	Addr    uint32
	Size    uint32
	Written bool
}

// sym is a symbol of the link: a global one (shared by every object that
// names it) or an object's local one.
type sym struct {
	name  string
	kind  SymKind
	flags uint32 // of the definition, or of the first reference
	// file and index locate the definition (file < 0: not defined in an
	// object). index is the object's symbol index.
	file, index int
	defined     bool
	synthetic   bool // defined by the linker
	// sig is the signature of an undefined function (for a stub).
	sig  *FuncType
	stub int // output function index of a weak-undefined stub or an import, -1 if none
	// imported marks an undefined function with an explicit import name
	// (import_name): wasm-ld imports it from impModule.impField.
	imported            bool
	impModule, impField string
	exported            bool
	order               int // first appearance, for export order
	live                bool
}

func (s *sym) weak() bool { return s.flags&SymBindingWeak != 0 }

type chunkKind uint8

const (
	chunkFunc chunkKind = iota
	chunkSeg
	chunkGlobal
)

type chunk struct {
	kind  chunkKind
	file  int
	index int // into Funcs, Segments or Globals of the file
}

type linker struct {
	objs   []*Object
	opts   LinkOptions
	global map[string]*sym
	order  []*sym
	// refs[f][i] is what symbol i of object f resolves to.
	refs [][]*sym
	// live chunks per object.
	funcLive, segLive, globLive [][]bool
	fileLive                    []bool
	queue                       []chunk
	// outputs
	types    []FuncType
	typeMap  [][]int // per object: its type index → output type index (-1: unused)
	funcs    []outFunc
	funcIdx  [][]int // per object: defined function (Funcs index) → output index
	globals  []outGlobal
	globIdx  [][]int
	table    []*funcRef // slot TableBase+i
	tableOf  map[funcRef]int
	segs     []*outSeg
	segPlace [][]segPlace // per object per segment
	hasTable bool
	stackTop uint32
	heapBase uint32
	dataEnd  uint32
	pages    uint32
	spIndex  int
	// nImported is the number of imported functions (l.funcs' first).
	nImported int
	// nImp[f][k] is the number of imports of kind k of object f.
	nImp [][4]int
	// defName[f] names object f's defined functions and globals by their
	// index in its index spaces.
	defName []map[[2]uint32]string
	synth   map[string]uint32 // linker-defined data symbols
}

type funcRef struct{ file, index int } // file<0: stub with output index `index`

type outFunc struct {
	name string
	typ  FuncType
	file int // -1: a stub, -2: an import
	imp  *sym
	fn   int
}

type outGlobal struct {
	name string
	typ  GlobalType
	init []byte
	file int // -1: synthetic
	g    int
}

type outSeg struct {
	name   string
	align  uint32
	addr   uint32
	size   uint32
	bss    bool
	pieces []segPiece
	index  int // in the data section
}

type segPiece struct {
	file, seg int
	off       uint32 // within the output segment
	// merged strings: data written for this piece (nil: the input's) and
	// the map from input offsets to output offsets.
	merged *mergedStrings
}

type segPlace struct {
	seg *outSeg
	off uint32 // of the input segment within the output segment (non-merged)
	// strings is set for a merged string segment.
	strings *mergedStrings
	starts  []uint32 // input offsets of its strings
	outOffs []uint32 // their output offsets within the merged chunk
	pieces  []string
}

type mergedStrings struct {
	data  []byte
	strs  []string          // distinct strings (with their NUL), first-seen order
	index map[string]uint32 // offset of each in data
	off   uint32            // within the output segment
	align uint32
	flags uint32
}

// Link links Wasm relocatable objects into a module as wasm-ld 16 does with
// `--no-entry --export=_start`. Errors read "FILE: what" for a fault in
// one object (unsupported input wraps ErrUnsupported and names the
// section, offset and feature) and "wasm-ld: what" style messages for the
// link as a whole (duplicate or undefined symbols).
func Link(objs []*Object, opts LinkOptions) (*Linked, error) {
	l := &linker{objs: objs, opts: opts, global: make(map[string]*sym), tableOf: make(map[funcRef]int), synth: make(map[string]uint32)}
	if len(objs) == 0 {
		return nil, errors.New("no input files")
	}
	l.nImp = make([][4]int, len(objs))
	l.defName = make([]map[[2]uint32]string, len(objs))
	for f, o := range objs {
		for _, im := range o.Imports {
			if im.Kind <= ExternGlobal {
				l.nImp[f][im.Kind]++
			}
		}
		l.defName[f] = map[[2]uint32]string{}
		for _, s := range o.Symbols {
			if (s.Kind == SymFunction || s.Kind == SymGlobal) && !s.Undefined() {
				k := [2]uint32{uint32(s.Kind), s.Index}
				if _, ok := l.defName[f][k]; !ok {
					l.defName[f][k] = s.Name
				}
			}
		}
	}
	steps := []func() error{l.check, l.resolve, l.markLive, l.layoutMemory, l.scanRelocs, l.assignIndexes, l.calculateTypes}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	return l.write()
}

// unsupported returns an error naming the object, the section and the file
// offset of the entity at at, and the feature.
func (o *Object) unsupported(at loc, section, format string, args ...any) error {
	off := -1
	if o.at != nil {
		if v, ok := o.at[at]; ok {
			off = v
		}
	}
	where := section
	if off >= 0 {
		where = fmt.Sprintf("%s, offset %#x", section, off)
	}
	return fmt.Errorf("%s: %w: %s: %s is not supported", o.Name, ErrUnsupported, where, fmt.Sprintf(format, args...))
}

// synthetic data symbols wasm-ld 16 defines when they are referenced.
var syntheticData = map[string]bool{
	"__heap_base": true, "__data_end": true, "__global_base": true, "__dso_handle": true,
	"__stack_low": true, "__stack_high": true,
}

const (
	stackPointerName = "__stack_pointer"
	tableName        = "__indirect_function_table"
)

// check refuses what the linker does not support, before anything is
// resolved.
func (l *linker) check() error {
	for _, o := range l.objs {
		if len(o.InitFuncs) > 0 {
			return o.unsupported(loc{Kind: locInitFunc}, "linking", "WASM_INIT_FUNCS (constructors)")
		}
		for i, e := range o.Exports {
			// clang writes export_name("x") as an export of the function
			if e.Kind != ExternFunc {
				return o.unsupported(loc{Kind: locExport, I: i}, "export", "an export of a %s in an object", e.Kind)
			}
		}
		for i, t := range o.Tables {
			_ = t
			return o.unsupported(loc{Kind: locTable, I: i}, "table", "a table defined in an object")
		}
		if len(o.Memories) > 0 {
			return o.unsupported(loc{Kind: locMemory}, "memory", "a memory defined in an object")
		}
		for i, im := range o.Imports {
			switch im.Kind {
			case ExternMemory:
				if im.Module != "env" || im.Name != "__linear_memory" {
					return o.unsupported(loc{Kind: locImport, I: i}, "import", "memory import %s.%s", im.Module, im.Name)
				}
			case ExternTable:
				if im.Name != tableName {
					return o.unsupported(loc{Kind: locImport, I: i}, "import", "table import %s.%s (only %s)", im.Module, im.Name, tableName)
				}
			case ExternGlobal:
				if im.Name != stackPointerName && !o.hasSymbolFor(ExternGlobal, i) {
					return o.unsupported(loc{Kind: locImport, I: i}, "import", "global import %s.%s without a symbol", im.Module, im.Name)
				}
			}
		}
		for i, s := range o.Segments {
			if s.Flags&SegmentTLS != 0 {
				return o.unsupported(loc{Kind: locSegment, I: i}, "data", "thread-local segment %s", s.Name)
			}
			if s.Passive {
				return o.unsupported(loc{Kind: locSegment, I: i}, "data", "passive segment %s", s.Name)
			}
			if err := l.checkRelocs(o, locSegmentReloc, i, "reloc.DATA", s.Relocs); err != nil {
				return err
			}
		}
		for i, f := range o.Funcs {
			if err := l.checkRelocs(o, locFuncReloc, i, "reloc.CODE", f.Relocs); err != nil {
				return err
			}
		}
		for i, c := range o.Customs {
			if len(c.Relocs) > 0 {
				return o.unsupported(loc{Kind: locCustomReloc, I: i}, "reloc."+c.Name, "relocations in custom section %s (debug information)", c.Name)
			}
			if c.Name == "target_features" {
				if _, err := parseFeatures(c.Data); err != nil {
					return fmt.Errorf("%s: %w: target_features: %v", o.Name, ErrMalformed, err)
				}
			}
			if c.Name == "producers" {
				if _, err := parseProducers(c.Data); err != nil {
					return fmt.Errorf("%s: %w: producers: %v", o.Name, ErrMalformed, err)
				}
			}
		}
		for i, s := range o.Symbols {
			if s.Flags&SymTLS != 0 {
				return o.unsupported(loc{Kind: locSymbol, I: i}, "linking", "TLS symbol %s", s.Name)
			}
			if s.Flags&SymAbsolute != 0 {
				return o.unsupported(loc{Kind: locSymbol, I: i}, "linking", "absolute symbol %s", s.Name)
			}
			if s.Kind == SymTable && !(s.Undefined() && s.Name == tableName) {
				return o.unsupported(loc{Kind: locSymbol, I: i}, "linking", "table symbol %s", s.Name)
			}
			if s.Kind == SymGlobal && s.Undefined() && s.Name != stackPointerName && !s.Local() {
				// resolved against a defined global of another object, or refused then
				continue
			}
		}
	}
	return nil
}

// funcImport returns the import of function index i, nil if i is not an
// imported function.
func (o *Object) funcImport(i uint32) *Import {
	n := uint32(0)
	for k := range o.Imports {
		if o.Imports[k].Kind != ExternFunc {
			continue
		}
		if n == i {
			return &o.Imports[k]
		}
		n++
	}
	return nil
}

func (o *Object) hasSymbolFor(k ExternKind, imp int) bool {
	n := 0
	for i := 0; i < imp; i++ {
		if o.Imports[i].Kind == k {
			n++
		}
	}
	sk := map[ExternKind]SymKind{ExternFunc: SymFunction, ExternGlobal: SymGlobal, ExternTable: SymTable}[k]
	for _, s := range o.Symbols {
		if s.Kind == sk && s.Undefined() && int(s.Index) == n {
			return true
		}
	}
	return false
}

// checkRelocs refuses the relocation types a static non-PIC wasm32 link
// does not take.
func (l *linker) checkRelocs(o *Object, kind locKind, owner int, section string, rs []Reloc) error {
	for j, r := range rs {
		switch r.Type {
		case RFunctionIndexLEB, RTableIndexSLEB, RTableIndexI32, RMemoryAddrLEB, RMemoryAddrSLEB,
			RMemoryAddrI32, RTypeIndexLEB, RGlobalIndexLEB, RGlobalIndexI32, RTableNumberLEB,
			RMemoryAddrLocRelI32, RFunctionIndexI32:
			if r.Type == RGlobalIndexLEB || r.Type == RGlobalIndexI32 {
				if o.Symbols[r.Index].Kind != SymGlobal {
					return o.unsupported(loc{Kind: kind, I: owner, J: j}, section, "%s against %s symbol %s (GOT access)", r.Type, o.Symbols[r.Index].Kind, o.Symbols[r.Index].Name)
				}
			}
			if r.Type == RMemoryAddrLocRelI32 && kind != locSegmentReloc {
				return o.unsupported(loc{Kind: kind, I: owner, J: j}, section, "%s outside data", r.Type)
			}
		default:
			return o.unsupported(loc{Kind: kind, I: owner, J: j}, section, "relocation %s", r.Type)
		}
	}
	return nil
}

// resolve builds the symbol table: each object's symbols in order, a
// strong definition beating a weak one, the first weak one winning among
// weak ones.
func (l *linker) resolve() error {
	l.refs = make([][]*sym, len(l.objs))
	for f, o := range l.objs {
		l.refs[f] = make([]*sym, len(o.Symbols))
		for i := range o.Symbols {
			s := &o.Symbols[i]
			if s.Kind == SymSection {
				l.refs[f][i] = &sym{name: s.Name, kind: s.Kind, file: f, index: i, defined: true}
				continue
			}
			if s.Local() {
				if s.Undefined() {
					return o.unsupported(loc{Kind: locSymbol, I: i}, "linking", "undefined local symbol %s", s.Name)
				}
				l.refs[f][i] = &sym{name: s.Name, kind: s.Kind, flags: s.Flags, file: f, index: i, defined: true, stub: -1}
				continue
			}
			g := l.global[s.Name]
			if g == nil {
				g = &sym{name: s.Name, kind: s.Kind, flags: s.Flags, file: -1, index: -1, stub: -1, order: len(l.order)}
				l.global[s.Name] = g
				l.order = append(l.order, g)
			} else if g.kind != s.Kind {
				return fmt.Errorf("symbol type mismatch: %s\n>>> defined as %s in %s\n>>> defined as %s in %s", s.Name, g.kind, l.fileOf(g), s.Kind, o.Name)
			}
			l.refs[f][i] = g
			if s.Undefined() {
				if !g.defined {
					if g.file < 0 && g.sig == nil && s.Kind == SymFunction {
						if t, ok := o.FuncType(s.Index); ok {
							g.sig = &t
						}
					}
					if s.Kind == SymFunction && s.Flags&SymExplicitName != 0 && !g.imported {
						if im := o.funcImport(s.Index); im != nil {
							g.imported, g.impModule, g.impField = true, im.Module, im.Name
						}
					}
					// a strong reference makes the undefined symbol strong
					if s.Flags&SymBindingWeak == 0 {
						g.flags &^= SymBindingWeak
					}
				}
				continue
			}
			switch {
			case !g.defined:
				g.defined, g.file, g.index, g.flags = true, f, i, s.Flags
			case g.weak() && s.Flags&SymBindingWeak == 0:
				g.file, g.index, g.flags = f, i, s.Flags
			case s.Flags&SymBindingWeak != 0:
				// the first definition stays
			default:
				return fmt.Errorf("duplicate symbol: %s\n>>> defined in %s\n>>> defined in %s", s.Name, l.objs[g.file].Name, o.Name)
			}
		}
	}
	// The linker's own symbols.
	for _, g := range l.order {
		if g.defined {
			continue
		}
		switch {
		case g.name == stackPointerName && g.kind == SymGlobal:
			g.synthetic, g.defined = true, true
		case g.name == tableName && g.kind == SymTable:
			g.synthetic, g.defined = true, true
		case syntheticData[g.name] && g.kind == SymData:
			g.synthetic, g.defined = true, true
		}
	}
	e := l.global[EntryName]
	if e == nil || !e.defined {
		return fmt.Errorf("symbol exported via --export not found: %s", EntryName)
	}
	e.exported = true
	var undef []string
	for _, g := range l.order {
		if !g.defined && g.weak() && g.kind != SymFunction && g.kind != SymData {
			return fmt.Errorf("%w: weak undefined %s symbol %s", ErrUnsupported, g.kind, g.name)
		}
		if g.defined || g.weak() || g.imported {
			continue
		}
		undef = append(undef, g.name)
	}
	if len(undef) > 0 {
		var b strings.Builder
		for i, n := range undef {
			if i > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "undefined symbol: %s", n)
		}
		return errors.New(b.String())
	}
	for _, g := range l.order {
		if g.defined && !g.synthetic && g.flags&SymExported != 0 {
			g.exported = true
		}
		if g.exported && g.kind == SymGlobal {
			return l.objs[g.file].unsupported(loc{Kind: locSymbol, I: g.index}, "linking", "exported global %s", g.name)
		}
	}
	for _, o := range l.objs {
		if len(o.Imports) > 0 {
			for _, im := range o.Imports {
				if im.Kind == ExternTable {
					l.hasTable = true
				}
			}
		}
	}
	if g := l.global[tableName]; g != nil {
		l.hasTable = true
	}
	return nil
}

func (l *linker) fileOf(g *sym) string {
	if g.file >= 0 {
		return l.objs[g.file].Name
	}
	return "<internal>"
}

// markLive is wasm-ld's --gc-sections: from the entry, the exported and
// the no-strip symbols, through every relocation of each live chunk.
func (l *linker) markLive() error {
	l.funcLive = make([][]bool, len(l.objs))
	l.segLive = make([][]bool, len(l.objs))
	l.globLive = make([][]bool, len(l.objs))
	l.fileLive = make([]bool, len(l.objs))
	for f, o := range l.objs {
		l.funcLive[f] = make([]bool, len(o.Funcs))
		l.segLive[f] = make([]bool, len(o.Segments))
		l.globLive[f] = make([]bool, len(o.Globals))
	}
	l.enqueue(l.global[EntryName])
	for _, g := range l.order {
		if g.defined && (g.flags&SymNoStrip != 0 || g.exported) {
			l.enqueue(g)
		}
	}
	if g := l.global[stackPointerName]; g != nil {
		g.live = true
	}
	for len(l.queue) > 0 {
		c := l.queue[len(l.queue)-1]
		l.queue = l.queue[:len(l.queue)-1]
		o := l.objs[c.file]
		var rs []Reloc
		switch c.kind {
		case chunkFunc:
			rs = o.Funcs[c.index].Relocs
		case chunkSeg:
			rs = o.Segments[c.index].Relocs
		}
		for _, r := range rs {
			if r.Type == RTypeIndexLEB {
				continue
			}
			s := l.refs[c.file][r.Index]
			if s.kind == SymFunction && !s.defined && !s.imported && isTableIndex(r.Type) {
				continue // a weak undefined function's address is 0
			}
			l.enqueue(s)
		}
	}
	return nil
}

func isTableIndex(t RelocType) bool {
	return t == RTableIndexSLEB || t == RTableIndexI32
}

func (l *linker) enqueue(s *sym) {
	if s == nil || s.live {
		return
	}
	s.live = true
	if !s.defined || s.synthetic || s.file < 0 {
		return
	}
	f := s.file
	if !l.fileLive[f] {
		l.fileLive[f] = true
		for i, seg := range l.objs[f].Segments {
			if seg.Flags&SegmentRetain != 0 && !l.segLive[f][i] {
				l.segLive[f][i] = true
				l.queue = append(l.queue, chunk{chunkSeg, f, i})
			}
		}
	}
	o := l.objs[f]
	d := &o.Symbols[s.index]
	switch d.Kind {
	case SymFunction:
		i := int(d.Index) - l.nImp[f][ExternFunc]
		if !l.funcLive[f][i] {
			l.funcLive[f][i] = true
			l.queue = append(l.queue, chunk{chunkFunc, f, i})
		}
	case SymData:
		i := int(d.Segment)
		if !l.segLive[f][i] {
			l.segLive[f][i] = true
			l.queue = append(l.queue, chunk{chunkSeg, f, i})
		}
	case SymGlobal:
		i := int(d.Index) - l.nImp[f][ExternGlobal]
		if i >= 0 {
			l.globLive[f][i] = true
		}
	}
}

// outputSegmentName is wasm-ld's getOutputDataSegmentName with
// --merge-data-segments (the default).
func outputSegmentName(name string) string {
	for _, p := range []string{".text", ".data", ".bss", ".rodata"} {
		if strings.HasPrefix(name, p+".") {
			return p
		}
	}
	return name
}

func segmentOrder(name string) int {
	switch {
	case strings.HasPrefix(name, ".tdata"):
		return 0
	case strings.HasPrefix(name, ".rodata"):
		return 1
	case strings.HasPrefix(name, ".data"):
		return 2
	case strings.HasPrefix(name, ".bss"):
		return 4
	}
	return 3
}

func mergeable(s *Segment) bool {
	return s.Flags&SegmentStrings != 0 && s.Align == 0 && len(s.Data) > 0
}

// layoutMemory makes the output segments and places them, the stack
// after them and __heap_base after the stack, as wasm-ld 16 does without
// --stack-first.
func (l *linker) layoutMemory() error {
	byName := map[string]*outSeg{}
	l.segPlace = make([][]segPlace, len(l.objs))
	type inSeg struct{ file, seg int }
	members := map[*outSeg][]inSeg{}
	for f, o := range l.objs {
		l.segPlace[f] = make([]segPlace, len(o.Segments))
		for i := range o.Segments {
			if !l.segLive[f][i] {
				continue
			}
			s := &o.Segments[i]
			name := outputSegmentName(s.Name)
			os := byName[name]
			if os == nil {
				os = &outSeg{name: name, bss: strings.HasPrefix(name, ".bss")}
				byName[name] = os
				l.segs = append(l.segs, os)
			}
			members[os] = append(members[os], inSeg{f, i})
		}
	}
	sort.SliceStable(l.segs, func(i, j int) bool { return segmentOrder(l.segs[i].name) < segmentOrder(l.segs[j].name) })
	for _, os := range l.segs {
		// merged string chunks take the place of their first member
		var merged []*mergedStrings
		type item struct {
			in     *inSeg
			merged *mergedStrings
		}
		var items []item
		for k := range members[os] {
			m := &members[os][k]
			s := &l.objs[m.file].Segments[m.seg]
			if !mergeable(s) {
				items = append(items, item{in: m})
				continue
			}
			var ms *mergedStrings
			for _, x := range merged {
				if x.flags == s.Flags && x.align == s.Align {
					ms = x
				}
			}
			if ms == nil {
				ms = &mergedStrings{index: map[string]uint32{}, align: s.Align, flags: s.Flags}
				merged = append(merged, ms)
				items = append(items, item{merged: ms})
			}
			p := &l.segPlace[m.file][m.seg]
			p.strings = ms
			data := s.Data
			if data[len(data)-1] != 0 {
				return l.objs[m.file].unsupported(loc{Kind: locSegment, I: m.seg}, "data", "string segment %s not ending in NUL", s.Name)
			}
			for start := 0; start < len(data); {
				end := start
				for data[end] != 0 {
					end++
				}
				end++ // the NUL
				str := string(data[start:end])
				if _, ok := ms.index[str]; !ok {
					ms.index[str] = 0
					ms.strs = append(ms.strs, str)
				}
				p.starts = append(p.starts, uint32(start))
				p.pieces = append(p.pieces, str)
				start = end
			}
		}
		for _, ms := range merged {
			ms.finalize()
		}
		for k := range members[os] {
			m := members[os][k]
			p := &l.segPlace[m.file][m.seg]
			if p.strings == nil {
				continue
			}
			for _, str := range p.pieces {
				p.outOffs = append(p.outOffs, p.strings.index[str])
			}
		}
		size := uint32(0)
		for _, it := range items {
			var align uint32
			var n uint32
			if it.merged != nil {
				align, n = it.merged.align, uint32(len(it.merged.data))
			} else {
				s := &l.objs[it.in.file].Segments[it.in.seg]
				align, n = s.Align, uint32(len(s.Data))
			}
			if align > os.align {
				os.align = align
			}
			off := alignUp(size, 1<<align)
			if it.merged != nil {
				it.merged.off = off
				os.pieces = append(os.pieces, segPiece{off: off, merged: it.merged})
			} else {
				l.segPlace[it.in.file][it.in.seg] = segPlace{seg: os, off: off}
				os.pieces = append(os.pieces, segPiece{file: it.in.file, seg: it.in.seg, off: off})
			}
			size = off + n
		}
		for k := range members[os] {
			m := members[os][k]
			l.segPlace[m.file][m.seg].seg = os
		}
		os.size = size
	}
	ptr := uint64(GlobalBase)
	dataStart := ptr
	for _, os := range l.segs {
		ptr = alignUp64(ptr, 1<<os.align)
		os.addr = uint32(ptr)
		ptr += uint64(os.size)
	}
	l.dataEnd = uint32(ptr)
	_ = dataStart
	ptr = alignUp64(ptr, stackAlign)
	stackLow := ptr
	ptr += StackSize
	l.stackTop = uint32(ptr)
	ptr = alignUp64(ptr, heapAlign)
	l.heapBase = uint32(ptr)
	ptr = alignUp64(ptr, PageSize)
	if ptr > 1<<32 {
		return fmt.Errorf("total memory too large: %d bytes", ptr)
	}
	l.pages = uint32(ptr / PageSize)
	l.synth["__heap_base"] = l.heapBase
	l.synth["__data_end"] = l.dataEnd
	l.synth["__global_base"] = GlobalBase
	l.synth["__dso_handle"] = uint32(dataStart)
	l.synth["__stack_low"] = uint32(stackLow)
	l.synth["__stack_high"] = l.stackTop
	return nil
}

func alignUp(v, a uint32) uint32   { return (v + a - 1) &^ (a - 1) }
func alignUp64(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }

// scanRelocs registers the types of call_indirect and hands out table
// slots in relocation order, as wasm-ld's scanRelocations does.
func (l *linker) scanRelocs() error {
	l.typeMap = make([][]int, len(l.objs))
	for f, o := range l.objs {
		l.typeMap[f] = make([]int, len(o.Types))
		for i := range l.typeMap[f] {
			l.typeMap[f][i] = -1
		}
	}
	used := make([][]bool, len(l.objs))
	for f, o := range l.objs {
		used[f] = make([]bool, len(o.Types))
		scan := func(rs []Reloc) {
			for _, r := range rs {
				if r.Type == RTypeIndexLEB {
					used[f][r.Index] = true
					continue
				}
				if isTableIndex(r.Type) {
					s := l.refs[f][r.Index]
					if !s.defined && !s.imported {
						continue // weak undefined: slot 0
					}
					ref := l.tableRef(s)
					if _, ok := l.tableOf[ref]; !ok {
						l.tableOf[ref] = len(l.table)
						l.table = append(l.table, &ref)
					}
				}
			}
		}
		for i := range o.Funcs {
			if l.funcLive[f][i] {
				scan(o.Funcs[i].Relocs)
			}
		}
		for i := range o.Segments {
			if l.segLive[f][i] {
				scan(o.Segments[i].Relocs)
			}
		}
	}
	if len(l.table) > 0 {
		l.hasTable = true
	}
	// wasm-ld registers the used types per file, in type-index order, at
	// calculateTypes; their slots come first.
	for f, o := range l.objs {
		for i, t := range o.Types {
			if used[f][i] {
				l.typeMap[f][i] = l.registerType(t)
			}
		}
	}
	return nil
}

// tableRef is what a table slot holds for function symbol s: its
// definition, or (file -1) the import of that symbol-table position.
func (l *linker) tableRef(s *sym) funcRef {
	if !s.defined {
		return funcRef{-1, s.order}
	}
	return l.funcOf(s)
}

// refIndex is the output function index of a table slot's function.
func (l *linker) refIndex(r funcRef) uint32 {
	if r.file < 0 {
		return uint32(l.order[r.index].stub)
	}
	return uint32(l.funcIdx[r.file][r.index])
}

// funcOf returns the definition of a defined function symbol.
func (l *linker) funcOf(s *sym) funcRef {
	o := l.objs[s.file]
	return funcRef{s.file, int(o.Symbols[s.index].Index) - l.nImp[s.file][ExternFunc]}
}

func (l *linker) registerType(t FuncType) int {
	for i, u := range l.types {
		if u.Equal(t) {
			return i
		}
	}
	l.types = append(l.types, t)
	return len(l.types) - 1
}

// assignIndexes numbers the functions (weak-undefined stubs first, then
// each object's live functions) and the globals (each object's, then the
// linker's).
func (l *linker) assignIndexes() error {
	// imports: the live strong undefined functions with an import name,
	// in symbol-table order
	for _, g := range l.order {
		if g.kind == SymFunction && !g.defined && g.live && g.imported && !g.weak() {
			if g.sig == nil {
				return fmt.Errorf("imported function %s has no signature", g.name)
			}
			g.stub = len(l.funcs)
			l.funcs = append(l.funcs, outFunc{name: g.name, typ: *g.sig, file: -2, imp: g})
		}
	}
	l.nImported = len(l.funcs)
	// stubs for weak undefined functions that are called
	for _, g := range l.order {
		if g.kind != SymFunction || g.defined || !g.live || g.stub >= 0 {
			continue
		}
		if g.sig == nil {
			return fmt.Errorf("weak undefined function %s has no signature", g.name)
		}
		g.stub = len(l.funcs)
		l.funcs = append(l.funcs, outFunc{name: "undefined_weak:" + g.name, typ: *g.sig, file: -1})
	}
	l.funcIdx = make([][]int, len(l.objs))
	for f, o := range l.objs {
		l.funcIdx[f] = make([]int, len(o.Funcs))
		for i := range o.Funcs {
			l.funcIdx[f][i] = -1
			if !l.funcLive[f][i] {
				continue
			}
			l.funcIdx[f][i] = len(l.funcs)
			l.funcs = append(l.funcs, outFunc{name: l.funcName(f, i), typ: o.Types[o.Funcs[i].Type], file: f, fn: i})
		}
	}
	l.globIdx = make([][]int, len(l.objs))
	for f, o := range l.objs {
		l.globIdx[f] = make([]int, len(o.Globals))
		for i := range o.Globals {
			l.globIdx[f][i] = -1
			if !l.globLive[f][i] {
				continue
			}
			l.globIdx[f][i] = len(l.globals)
			l.globals = append(l.globals, outGlobal{name: l.globalName(f, i), typ: o.Globals[i].Type, init: o.Globals[i].Init, file: f, g: i})
		}
	}
	if g := l.global[stackPointerName]; g == nil || g.synthetic {
		init := append([]byte{opI32Const}, AppendSLEB(nil, int64(int32(l.stackTop)))...)
		l.spIndex = len(l.globals)
		l.globals = append(l.globals, outGlobal{name: stackPointerName, typ: GlobalType{Type: I32, Mutable: true}, init: init, file: -1})
	}
	return nil
}

// exportName is the name an exported function symbol is exported as:
// the export_name of its object's export, else its own.
func (l *linker) exportName(g *sym) string {
	if g.defined && g.file >= 0 {
		o := l.objs[g.file]
		idx := o.Symbols[g.index].Index
		for _, e := range o.Exports {
			if e.Kind == ExternFunc && e.Index == idx {
				return e.Name
			}
		}
	}
	return g.name
}

// funcName is the name of defined function i of object f: its symbol's.
func (l *linker) funcName(f, i int) string {
	return l.defName[f][[2]uint32{uint32(SymFunction), uint32(i + l.nImp[f][ExternFunc])}]
}

func (l *linker) globalName(f, i int) string {
	return l.defName[f][[2]uint32{uint32(SymGlobal), uint32(i + l.nImp[f][ExternGlobal])}]
}

// calculateTypes adds the signatures of the defined functions after those
// of call_indirect.
func (l *linker) calculateTypes() error {
	for _, fn := range l.funcs {
		l.registerType(fn.typ)
	}
	return nil
}

// funcIndex returns the output function index a relocation against s
// takes.
func (l *linker) funcIndex(s *sym) uint32 {
	if !s.defined {
		return uint32(s.stub)
	}
	r := l.funcOf(s)
	return uint32(l.funcIdx[r.file][r.index])
}

// dataAddr returns the address of data symbol s.
func (l *linker) dataAddr(s *sym) (uint32, bool) {
	if !s.defined {
		return 0, false // weak undefined
	}
	if s.synthetic {
		return l.synth[s.name], true
	}
	o := l.objs[s.file]
	d := &o.Symbols[s.index]
	return l.segAddr(s.file, int(d.Segment), d.Offset), true
}

// segAddr is the output address of offset off of segment seg of object f.
func (l *linker) segAddr(f, seg int, off uint32) uint32 {
	p := &l.segPlace[f][seg]
	if p.strings == nil {
		return p.seg.addr + p.off + off
	}
	k := sort.Search(len(p.starts), func(k int) bool { return p.starts[k] > off }) - 1
	if k < 0 {
		k = 0
	}
	return p.seg.addr + p.strings.off + p.outOffs[k] + (off - p.starts[k])
}

// value computes the field a relocation of object f writes; loc is the
// address of the field for location-relative types.
func (l *linker) value(f int, r Reloc, at uint32) uint64 {
	if r.Type == RTypeIndexLEB {
		return uint64(l.typeMap[f][r.Index])
	}
	s := l.refs[f][r.Index]
	switch r.Type {
	case RFunctionIndexLEB, RFunctionIndexI32:
		return uint64(l.funcIndex(s))
	case RTableIndexSLEB, RTableIndexI32:
		if !s.defined && !s.imported {
			return 0
		}
		return uint64(l.tableOf[l.tableRef(s)] + TableBase)
	case RGlobalIndexLEB, RGlobalIndexI32:
		if s.synthetic {
			return uint64(l.spIndex)
		}
		o := l.objs[s.file]
		return uint64(l.globIdx[s.file][int(o.Symbols[s.index].Index)-l.nImp[s.file][ExternGlobal]])
	case RTableNumberLEB:
		return 0
	}
	a, ok := l.dataAddr(s)
	if !ok {
		return 0
	}
	v := uint64(uint32(int64(a) + int64(r.Addend)))
	if r.Type == RMemoryAddrI32 && l.opts.Faults.Has(fault.WasmLinkDataPointer) {
		v += 4
	}
	if r.Type == RMemoryAddrLocRelI32 {
		v = uint64(uint32(v) - at)
	}
	return v
}

// patch writes v into the field of relocation r in b (r.Offset is relative
// to b).
func patch(b []byte, r Reloc, v uint64) {
	p := b[r.Offset:]
	switch r.Type {
	case RTableIndexSLEB, RMemoryAddrSLEB:
		PutPaddedSLEB(p, int32(v))
	case RTableIndexI32, RMemoryAddrI32, RFunctionIndexI32, RGlobalIndexI32, RMemoryAddrLocRelI32:
		p[0], p[1], p[2], p[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	default:
		PutPaddedULEB(p, uint32(v))
	}
}

func (l *linker) write() (*Linked, error) {
	out := &Linked{StackPointer: l.stackTop, HeapBase: l.heapBase, DataEnd: l.dataEnd, Data: map[string]uint32{}}
	m := append([]byte(Magic), Version, 0, 0, 0)
	section := func(id byte, payload []byte) {
		m = append(m, id)
		m = AppendULEB(m, uint64(len(payload)))
		m = append(m, payload...)
	}
	custom := func(name string, payload []byte) {
		section(secCustom, append(appendName(nil, name), payload...))
	}
	// type
	if len(l.types) > 0 {
		b := AppendULEB(nil, uint64(len(l.types)))
		for _, t := range l.types {
			b = append(b, 0x60)
			b = AppendULEB(b, uint64(len(t.Params)))
			for _, p := range t.Params {
				b = append(b, byte(p))
			}
			b = AppendULEB(b, uint64(len(t.Results)))
			for _, r := range t.Results {
				b = append(b, byte(r))
			}
		}
		section(secType, b)
	}
	// function
	if l.nImported > 0 {
		b := AppendULEB(nil, uint64(l.nImported))
		for _, fn := range l.funcs[:l.nImported] {
			b = appendName(b, fn.imp.impModule)
			b = appendName(b, fn.imp.impField)
			b = append(b, byte(ExternFunc))
			b = AppendULEB(b, uint64(l.registerType(fn.typ)))
		}
		section(secImport, b)
	}
	defined := l.funcs[l.nImported:]
	if len(defined) > 0 {
		b := AppendULEB(nil, uint64(len(defined)))
		for _, fn := range defined {
			b = AppendULEB(b, uint64(l.registerType(fn.typ)))
		}
		section(secFunction, b)
	}
	tableSize := uint32(TableBase + len(l.table))
	if l.hasTable {
		b := []byte{1, byte(FuncRef)}
		b = appendLimits(b, Limits{Min: tableSize, Max: tableSize, HasMax: true})
		section(secTable, b)
	}
	section(secMemory, appendLimits([]byte{1}, Limits{Min: l.pages}))
	if len(l.globals) > 0 {
		b := AppendULEB(nil, uint64(len(l.globals)))
		for _, g := range l.globals {
			b = append(b, byte(g.typ.Type), b2b(g.typ.Mutable))
			b = append(b, g.init...)
			b = append(b, opEnd)
		}
		section(secGlobal, b)
	}
	// exports: the memory, then the exported symbols in symbol-table order
	type export struct {
		name  string
		kind  ExternKind
		index uint32
	}
	exports := []export{{"memory", ExternMemory, 0}}
	var dataGlobals []uint32
	for _, g := range l.order {
		if !g.exported || !g.live {
			continue
		}
		switch g.kind {
		case SymFunction:
			exports = append(exports, export{l.exportName(g), ExternFunc, l.funcIndex(g)})
		case SymData:
			a, _ := l.dataAddr(g)
			exports = append(exports, export{g.name, ExternGlobal, uint32(len(l.globals) + len(dataGlobals))})
			dataGlobals = append(dataGlobals, a)
		}
	}
	if len(dataGlobals) > 0 {
		// wasm-ld adds an immutable global holding each exported data
		// symbol's address after the others: rewrite the global section.
		return nil, fmt.Errorf("%w: exported data symbols are not supported", ErrUnsupported)
	}
	{
		b := AppendULEB(nil, uint64(len(exports)))
		for _, e := range exports {
			b = appendName(b, e.name)
			b = append(b, byte(e.kind))
			b = AppendULEB(b, uint64(e.index))
		}
		section(secExport, b)
	}
	if len(l.table) > 0 {
		b := []byte{1, 0, opI32Const}
		b = AppendSLEB(b, TableBase)
		b = append(b, opEnd)
		b = AppendULEB(b, uint64(len(l.table)))
		for k, r := range l.table {
			if k > 0 && k == len(l.table)-1 && l.opts.Faults.Has(fault.WasmLinkTableSlot) {
				r = l.table[k-1]
			}
			idx := l.refIndex(*r)
			b = AppendULEB(b, uint64(idx))
			out.Table = append(out.Table, idx)
		}
		section(secElem, b)
	}
	// code
	for _, fn := range l.funcs[:l.nImported] {
		out.Funcs = append(out.Funcs, fn.name)
	}
	if len(defined) > 0 {
		b := AppendULEB(nil, uint64(len(defined)))
		for _, fn := range defined {
			out.Funcs = append(out.Funcs, fn.name)
			if fn.file < 0 {
				b = append(b, 3, 0, 0x00, opEnd) // unreachable
				continue
			}
			f := &l.objs[fn.file].Funcs[fn.fn]
			var body []byte
			body = AppendULEB(body, uint64(len(f.Locals)))
			for _, lg := range f.Locals {
				body = AppendULEB(body, uint64(lg.Count))
				body = append(body, byte(lg.Type))
			}
			base := len(body)
			body = append(body, f.Code...)
			code := body[base:]
			for _, r := range f.Relocs {
				patch(code, r, l.value(fn.file, r, 0))
			}
			b = AppendULEB(b, uint64(len(body)))
			b = append(b, body...)
		}
		section(secCode, b)
	}
	// data
	var written []*outSeg
	for _, os := range l.segs {
		out.Segments = append(out.Segments, LinkedSegment{Name: os.name, Addr: os.addr, Size: os.size, Written: !os.bss})
		if !os.bss {
			os.index = len(written)
			written = append(written, os)
		}
	}
	if len(written) > 0 {
		b := AppendULEB(nil, uint64(len(written)))
		for _, os := range written {
			b = append(b, 0, opI32Const)
			b = AppendSLEB(b, int64(int32(os.addr)))
			b = append(b, opEnd)
			data := make([]byte, os.size)
			for _, p := range os.pieces {
				if p.merged != nil {
					copy(data[p.off:], p.merged.data)
					continue
				}
				s := &l.objs[p.file].Segments[p.seg]
				copy(data[p.off:], s.Data)
				for _, r := range s.Relocs {
					at := os.addr + p.off + r.Offset
					field := data[p.off:]
					patch(field, r, l.value(p.file, r, at))
				}
			}
			b = AppendULEB(b, uint64(len(data)))
			b = append(b, data...)
		}
		section(secData, b)
	}
	// the objects' other custom sections, merged by name
	var customNames []string
	customs := map[string][]byte{}
	var producers []*producerInfo
	features := map[string]bool{}
	for _, o := range l.objs {
		for _, c := range o.Customs {
			switch {
			case c.Name == "producers":
				p, _ := parseProducers(c.Data)
				producers = append(producers, p)
			case c.Name == "target_features":
				fs, _ := parseFeatures(c.Data)
				for _, f := range fs {
					if f.prefix == '+' || f.prefix == '=' {
						features[f.name] = true
					}
				}
			case c.Name == "name" || c.Name == "dylink" || c.Name == "dylink.0" || strings.HasPrefix(c.Name, "reloc."):
			default:
				if _, ok := customs[c.Name]; !ok {
					customNames = append(customNames, c.Name)
				}
				customs[c.Name] = append(customs[c.Name], c.Data...)
			}
		}
	}
	for _, n := range customNames {
		custom(n, customs[n])
	}
	custom("name", l.nameSection(written))
	if p := mergeProducers(producers); p != nil {
		custom("producers", p)
	}
	if len(features) > 0 {
		names := make([]string, 0, len(features))
		for f := range features {
			names = append(names, f)
		}
		sort.Strings(names)
		b := AppendULEB(nil, uint64(len(names)))
		for _, n := range names {
			b = append(b, '+')
			b = appendName(b, n)
		}
		custom("target_features", b)
	}
	for _, g := range l.order {
		if g.kind == SymData && g.live {
			if a, ok := l.dataAddr(g); ok {
				out.Data[g.name] = a
			}
		}
	}
	out.Module = m
	return out, nil
}

// nameSection is wasm-ld's: function names, global names, data segment
// names.
func (l *linker) nameSection(written []*outSeg) []byte {
	var b []byte
	sub := func(id byte, entries []byte, n int) {
		if n == 0 {
			return
		}
		p := AppendULEB(nil, uint64(n))
		p = append(p, entries...)
		b = append(b, id)
		b = AppendULEB(b, uint64(len(p)))
		b = append(b, p...)
	}
	var e []byte
	n := 0
	for i, fn := range l.funcs {
		if fn.name == "" {
			continue
		}
		e = AppendULEB(e, uint64(i))
		e = appendName(e, fn.name)
		n++
	}
	sub(1, e, n)
	e, n = nil, 0
	for i, g := range l.globals {
		if g.name == "" {
			continue
		}
		e = AppendULEB(e, uint64(i))
		e = appendName(e, g.name)
		n++
	}
	sub(7, e, n)
	e, n = nil, 0
	for _, s := range written {
		e = AppendULEB(e, uint64(s.index))
		e = appendName(e, s.name)
		n++
	}
	sub(9, e, n)
	return b
}

type feature struct {
	prefix byte
	name   string
}

func parseFeatures(b []byte) ([]feature, error) {
	c := &cursor{r: &reader{}, b: b}
	n, err := c.u32("feature count")
	if err != nil {
		return nil, err
	}
	var fs []feature
	for i := uint32(0); i < n; i++ {
		p, err := c.byte("feature prefix")
		if err != nil {
			return nil, err
		}
		if p != '+' && p != '-' && p != '=' {
			return nil, fmt.Errorf("feature %d: bad prefix %#x", i, p)
		}
		name, err := c.name("feature name")
		if err != nil {
			return nil, err
		}
		fs = append(fs, feature{p, name})
	}
	if !c.done() {
		return nil, errors.New("bytes after the features")
	}
	return fs, nil
}

type producerInfo struct {
	fields [3][][2]string // language, processed-by, sdk
}

var producerFields = [3]string{"language", "processed-by", "sdk"}

func parseProducers(b []byte) (*producerInfo, error) {
	c := &cursor{r: &reader{}, b: b}
	n, err := c.u32("field count")
	if err != nil {
		return nil, err
	}
	p := &producerInfo{}
	for i := uint32(0); i < n; i++ {
		name, err := c.name("field name")
		if err != nil {
			return nil, err
		}
		k := -1
		for j, f := range producerFields {
			if f == name {
				k = j
			}
		}
		if k < 0 {
			return nil, fmt.Errorf("unknown producers field %q", name)
		}
		m, err := c.u32("value count")
		if err != nil {
			return nil, err
		}
		for j := uint32(0); j < m; j++ {
			v, err := c.name("producer name")
			if err != nil {
				return nil, err
			}
			ver, err := c.name("producer version")
			if err != nil {
				return nil, err
			}
			p.fields[k] = append(p.fields[k], [2]string{v, ver})
		}
	}
	if !c.done() {
		return nil, errors.New("bytes after the fields")
	}
	return p, nil
}

// mergeProducers merges the objects' producers sections as wasm-ld does:
// per field, the first version of each name.
func mergeProducers(ps []*producerInfo) []byte {
	var all [3][][2]string
	for _, p := range ps {
		for k := range p.fields {
			for _, v := range p.fields[k] {
				seen := false
				for _, w := range all[k] {
					if w[0] == v[0] {
						seen = true
					}
				}
				if !seen {
					all[k] = append(all[k], v)
				}
			}
		}
	}
	n := 0
	for k := range all {
		if len(all[k]) > 0 {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	b := AppendULEB(nil, uint64(n))
	for k := range all {
		if len(all[k]) == 0 {
			continue
		}
		b = appendName(b, producerFields[k])
		b = AppendULEB(b, uint64(len(all[k])))
		for _, v := range all[k] {
			b = appendName(b, v[0])
			b = appendName(b, v[1])
		}
	}
	return b
}

// finalize lays the merged strings out as LLVM's StringTableBuilder does
// for wasm-ld's SyntheticMergedChunk (kind RAW, optimized): sorted by
// their reversed bytes, greatest first (a string that ends another comes
// right after it), each string that is a suffix of the one before sharing
// its bytes.
func (ms *mergedStrings) finalize() {
	strs := append([]string(nil), ms.strs...)
	sort.Slice(strs, func(i, j int) bool { return tailCompare(strs[i], strs[j]) > 0 })
	prev := ""
	for _, s := range strs {
		if strings.HasSuffix(prev, s) {
			ms.index[s] = uint32(len(ms.data) - len(s))
			continue
		}
		ms.index[s] = uint32(len(ms.data))
		ms.data = append(ms.data, s...)
		prev = s
	}
}

// tailCompare compares a and b from their last bytes backwards, a string
// that runs out first being the smaller.
func tailCompare(a, b string) int {
	for k := 1; ; k++ {
		ca, cb := -1, -1
		if k <= len(a) {
			ca = int(a[len(a)-k])
		}
		if k <= len(b) {
			cb = int(b[len(b)-k])
		}
		if ca != cb {
			return ca - cb
		}
		if ca < 0 {
			return 0
		}
	}
}
