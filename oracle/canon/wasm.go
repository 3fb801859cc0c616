package canon

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/linkcheck/linkcheck/ref/wasm"
)

// The Wasm loader and decoder. A linked module has no addresses for code
// and no symbol table: functions and globals are named by the name
// section, and what a relocated field means comes from the input objects
// (ref/wasm's model), whose relocation offsets hold in the output because
// wasm-ld copies function bodies and data segments whole. The canonical
// image of a module:
//
//   - a func symbol per function, named as in the name section (a name
//     that several output functions share is qualified by the object
//     whose body it is, NAME@FILE), with its locals and instructions;
//     `call f`, `global.get __stack_pointer`, `call_indirect (i64)->i64`,
//     and, where the objects have a relocation, `i32.const &sym+off`,
//     `i32.const &fn` (a table index) and `i64.load offset=&sym+off`;
//   - an object symbol per input data symbol the module holds, its bytes
//     read from the data segments (zeros past them: .bss), with its pointer
//     fields (MEMORY_ADDR_I32 as `&sym+off`, TABLE_INDEX_I32 as `&fn`);
//     where a segment landed is learnt from the module itself, from the
//     values of the relocated fields that refer to it;
//   - the globals, the table (the set of functions in it), the exports and
//     the error table of ref/wasmgen (_lc_err_table, _lc_err_names,
//     _lc_errors_len) decoded into names.

// Wasm symbol names of ref/wasmgen's error table.
const (
	wasmErrTable = "_lc_err_table"
	wasmErrLen   = "_lc_errors_len"
)

// ReadWasm reads a linked Wasm module into its canonical image; objs are
// the input objects (nil: nothing is known to be an address, and
// PointerSource says so).
func ReadWasm(data []byte, objs []*wasm.Object) (*Image, error) {
	return ReadWasmWith(data, objs, WasmOptions{})
}

// WasmOptions change how ReadWasmWith reads a module.
type WasmOptions struct {
	// NoLayout leaves out what only the placement of memory decides: the
	// address of a linker-defined datum (`&__heap_base+0x800000`, no
	// `@ADDR`), the initial values of linker-defined globals
	// (__stack_pointer) and the initial memory size. An incremental
	// module lays memory out its own way by design (its regions, with
	// __heap_base past them): invariant 2 compares it with a fresh link
	// so, both sides read alike. Every datum's contents, every pointer's
	// target and every reference to a linker-defined datum by name and
	// offset are still compared.
	NoLayout bool
}

// ReadWasmWith is ReadWasm with options. A module of the incremental
// linker (ref/wasm.IncrImage: it has the wasm.IncrDataSection custom
// section) is seen through as the ELF trampolines are: a free body (no
// name, only `unreachable`s: a free slot, the null function 0) is no
// function and a table cell naming one is null; a function's slot padding
// (`return`, then `unreachable`s, before its `end`) is not code, its body
// read as ending at the `return`; the table's cells in memory (the last
// data segment) are the table, not data, and a table with no cell is none.
func ReadWasmWith(data []byte, objs []*wasm.Object, opts WasmOptions) (*Image, error) {
	m, err := wasm.ReadModule("module", data)
	if err != nil {
		return nil, fmt.Errorf("canon: %w: %v", ErrMalformed, err)
	}
	w := &wasmReader{m: m, objs: objs, opts: opts, im: &Image{Format: "wasm", PointerSource: PointersUnknown}}
	if len(objs) > 0 {
		w.im.PointerSource = PointersFromObjects
	}
	if err := w.read(); err != nil {
		return nil, err
	}
	return w.im, nil
}

type wasmReader struct {
	m    *wasm.Object
	objs []*wasm.Object
	im   *Image
	opts WasmOptions
	// incr is set for a module of the incremental linker; free marks its
	// free bodies (by defined-function index).
	incr bool
	free map[int]bool

	nImpFuncs   int
	funcNames   []string // by function index, canonical
	globalNames []string
	// src[i] is the input function of defined function i (file -1: none).
	src   []funcSrc
	table map[uint32]uint32 // slot → function index
	// segBase[f][s] is the output address of segment s of object f, when
	// learnt.
	segBase [][]int64
	mem     []memSeg
	// winner maps each global data symbol to the definition a link keeps
	// (fn is the symbol's index): the first strong one, else the first.
	winner map[string]funcSrc
	data   []*dataSym
	notes  map[string]bool
	// typeTexts caches typeText by type index ("" when not yet made).
	typeTexts []string
	// insns and args are the slabs decode cuts functions' instructions
	// and operands from (their lengths the parts handed out).
	insns []Insn
	args  []string
}

// slabSize is the least number of entries of a new slab.
const slabSize = 4096

// insnSlab returns an empty slice with room for n instructions, at the
// free end of the instruction slab (a new slab when it has not that much).
func (w *wasmReader) insnSlab(n int) []Insn {
	if cap(w.insns)-len(w.insns) < n {
		w.insns = make([]Insn, 0, max(slabSize, n))
	}
	return w.insns[len(w.insns):len(w.insns)]
}

// argSlab is insnSlab for operands.
func (w *wasmReader) argSlab(n int) []string {
	if cap(w.args)-len(w.args) < n {
		w.args = make([]string, 0, max(slabSize, n))
	}
	return w.args[len(w.args):len(w.args)]
}

// keepSlabs marks out and args, a function's decoding cut from the slabs,
// as handed out (when they are still in them).
func (w *wasmReader) keepSlabs(out []Insn, args []string) {
	if len(out) > 0 && cap(out) == cap(w.insns)-len(w.insns) {
		w.insns = w.insns[:len(w.insns)+len(out)]
	}
	if len(args) > 0 && cap(args) == cap(w.args)-len(w.args) {
		w.args = w.args[:len(w.args)+len(args)]
	}
}

// relocIndex finds a function's relocations by offset: by a cursor when
// they are sorted by offset (as a linker's inputs have them) and the
// lookups come in increasing order, as decode makes them; by a map
// otherwise.
type relocIndex struct {
	sorted []wasm.Reloc
	next   int
	m      map[uint32]wasm.Reloc
}

func newRelocIndex(relocs []wasm.Reloc) relocIndex {
	for i := 1; i < len(relocs); i++ {
		if relocs[i].Offset <= relocs[i-1].Offset {
			m := make(map[uint32]wasm.Reloc, len(relocs))
			for _, r := range relocs {
				m[r.Offset] = r
			}
			return relocIndex{m: m}
		}
	}
	return relocIndex{sorted: relocs}
}

// at returns the relocation at offset off. With sorted relocations, the
// offsets asked must not decrease.
func (x *relocIndex) at(off uint32) (wasm.Reloc, bool) {
	if x.m != nil {
		r, ok := x.m[off]
		return r, ok
	}
	for x.next < len(x.sorted) && x.sorted[x.next].Offset < off {
		x.next++
	}
	if x.next < len(x.sorted) && x.sorted[x.next].Offset == off {
		return x.sorted[x.next], true
	}
	return wasm.Reloc{}, false
}

type funcSrc struct{ file, fn int }

type memSeg struct {
	name string
	addr uint32
	data []byte
}

type dataSym struct {
	name       string
	file, sym  int
	addr, size uint32
}

func (w *wasmReader) note(format string, args ...any) {
	if w.notes == nil {
		w.notes = map[string]bool{}
	}
	w.notes[fmt.Sprintf(format, args...)] = true
}

func (w *wasmReader) read() error {
	m := w.m
	w.nImpFuncs = m.NumImported(wasm.ExternFunc)
	nFuncs := w.nImpFuncs + len(m.Funcs)
	names, globals, segNames, err := parseNames(m)
	if err != nil {
		return fmt.Errorf("canon: %w: name section: %v", ErrMalformed, err)
	}
	w.seeThroughIncr(names)
	// the table
	w.table = map[uint32]uint32{}
	for _, e := range m.Elems {
		for k, f := range e.Funcs {
			if w.incr && int(f) >= w.nImpFuncs && w.free[int(f)-w.nImpFuncs] {
				continue // a null cell
			}
			w.table[e.Offset+uint32(k)] = f
		}
	}
	segs := m.Segments
	if w.incr && len(segs) > 0 {
		segs = segs[:len(segs)-1] // the table's cells
	}
	for _, s := range segs {
		name := segNames[uint32(len(w.mem))]
		w.mem = append(w.mem, memSeg{name: name, addr: s.Offset, data: s.Data})
	}
	w.matchFuncs(names, nFuncs)
	w.globalNames = make([]string, m.NumImported(wasm.ExternGlobal)+len(m.Globals))
	for i := range w.globalNames {
		if n, ok := globals[uint32(i)]; ok {
			w.globalNames[i] = n
		} else {
			w.globalNames[i] = fmt.Sprintf("global%d", i)
		}
	}
	w.learnSegments()
	w.dataSymbols()
	w.im.Sections = append(w.im.Sections, Section{Name: "code", Flags: "AX"})
	for _, s := range w.mem {
		fl := "AW"
		if strings.HasPrefix(s.name, ".rodata") {
			fl = "A"
		}
		w.im.Sections = append(w.im.Sections, Section{Name: s.name, Flags: fl})
	}
	// functions
	for i := range m.Funcs {
		if w.free[i] {
			continue
		}
		w.im.Symbols = append(w.im.Symbols, w.funcSymbol(i))
	}
	// data
	for _, d := range w.data {
		w.im.Symbols = append(w.im.Symbols, w.dataSymbol(d))
	}
	// globals
	for i, g := range m.Globals {
		idx := m.NumImported(wasm.ExternGlobal) + i
		fl := "A"
		if g.Type.Mutable {
			fl = "AW"
		}
		gs := &Symbol{Name: w.globalNames[idx], Kind: KindObject, Bind: BindGlobal,
			Size: uint64(len(g.Init)), Section: "global " + g.Type.Type.String(), Flags: fl, Synthetic: !w.definedGlobal(w.globalNames[idx]),
			Data: append([]byte(nil), g.Init...)}
		if gs.Synthetic && w.opts.NoLayout {
			gs.Size, gs.Data = 0, nil
		}
		w.im.Symbols = append(w.im.Symbols, gs)
	}
	// the table: the set of functions in it (an incremental module
	// declares its table even when no address is taken yet: an empty one
	// is no table)
	if len(m.Tables) > 0 && (!w.incr || len(w.table) > 0) {
		var targets []string
		for _, f := range w.table {
			targets = append(targets, "&"+w.funcName(f))
		}
		sort.Strings(targets)
		s := &Symbol{Name: "__indirect_function_table", Kind: KindObject, Bind: BindGlobal, Size: uint64(4 * len(targets)),
			Section: "table", Flags: "A", Synthetic: true, Data: make([]byte, 4*len(targets))}
		for k, t := range targets {
			s.Pointers = append(s.Pointers, Pointer{Off: uint64(4 * k), Size: 4, Kind: "funcref", Target: t})
		}
		w.im.Symbols = append(w.im.Symbols, s)
	}
	// exports
	for _, e := range m.Exports {
		target := fmt.Sprintf("%s %d", e.Kind, e.Index)
		switch e.Kind {
		case wasm.ExternFunc:
			target = "&" + w.funcName(e.Index)
			if e.Name == "_start" {
				w.im.Entry = w.funcName(e.Index)
			}
		case wasm.ExternGlobal:
			if int(e.Index) < len(w.globalNames) {
				target = "&" + w.globalNames[e.Index]
			}
		}
		w.im.Symbols = append(w.im.Symbols, &Symbol{Name: "export:" + e.Name, Kind: KindNone, Bind: BindGlobal, Size: 4,
			Section: "export", Flags: "A", Synthetic: true, Data: make([]byte, 4),
			Pointers: []Pointer{{Off: 0, Size: 4, Kind: "export " + e.Kind.String(), Target: target}}})
	}
	// imports
	nf := 0
	for _, im := range m.Imports {
		target := im.Kind.String()
		if im.Kind == wasm.ExternFunc {
			target = "&" + w.funcName(uint32(nf)) + " " + w.typeText(im.Type)
			nf++
		}
		w.im.Symbols = append(w.im.Symbols, &Symbol{Name: "import:" + im.Module + "." + im.Name, Kind: KindNone, Bind: BindGlobal, Size: 4,
			Section: "import", Flags: "A", Synthetic: true, Data: make([]byte, 4),
			Pointers: []Pointer{{Off: 0, Size: 4, Kind: "import " + im.Kind.String(), Target: target}}})
	}
	if len(m.Memories) > 0 && !w.opts.NoLayout {
		w.im.Symbols = append(w.im.Symbols, &Symbol{Name: "memory:0", Kind: KindObject, Bind: BindGlobal, Size: 4,
			Section: "memory", Flags: "AW", Synthetic: true, Data: binary.LittleEndian.AppendUint32(nil, m.Memories[0].Min)})
	}
	w.errTab()
	sort.Slice(w.im.Symbols, func(i, j int) bool { return w.im.Symbols[i].Name < w.im.Symbols[j].Name })
	w.dedupNames()
	for n := range w.notes {
		w.im.Notes = append(w.im.Notes, n)
	}
	sort.Strings(w.im.Notes)
	return nil
}

// seeThroughIncr recognizes a module of the incremental linker and reads
// through its framing (ReadWasmWith): free bodies are marked, the slot
// padding of the others is cut.
func (w *wasmReader) seeThroughIncr(names map[uint32]string) {
	for _, c := range w.m.Customs {
		if c.Name == wasm.IncrDataSection {
			w.incr = true
		}
	}
	if !w.incr {
		return
	}
	w.free = map[int]bool{}
	for d := range w.m.Funcs {
		f := &w.m.Funcs[d]
		code := f.Code
		if len(code) == 0 || code[len(code)-1] != 0x0b {
			continue
		}
		k := len(code) - 1
		for k > 0 && code[k-1] == 0x00 {
			k--
		}
		if _, named := names[uint32(w.nImpFuncs+d)]; !named {
			if k == 0 && len(f.Locals) == 0 {
				w.free[d] = true
			}
			continue
		}
		if k > 0 && code[k-1] == 0x0f {
			f.Code = append(code[:k-1:k-1], 0x0b)
		}
	}
}

// dedupNames qualifies names that still collide by their order.
func (w *wasmReader) dedupNames() {
	syms := w.im.Symbols
	for i := 1; i < len(syms); i++ {
		if syms[i].Name == syms[i-1].Name {
			w.note("duplicate symbol name %s", syms[i].Name)
			syms[i].Name = fmt.Sprintf("%s#%d", syms[i].Name, i)
		}
	}
	sort.Slice(syms, func(i, j int) bool { return syms[i].Name < syms[j].Name })
}

func (w *wasmReader) definedGlobal(name string) bool {
	for _, o := range w.objs {
		for _, s := range o.Symbols {
			if s.Kind == wasm.SymGlobal && !s.Undefined() && s.Name == name {
				return true
			}
		}
	}
	return false
}

// parseNames reads the name section's function, global and data segment
// names.
func parseNames(m *wasm.Object) (funcs, globals, segs map[uint32]string, err error) {
	funcs, globals, segs = map[uint32]string{}, map[uint32]string{}, map[uint32]string{}
	for _, c := range m.Customs {
		if c.Name != "name" {
			continue
		}
		b := c.Data
		for len(b) > 0 {
			id := b[0]
			size, n, err := wasm.ReadULEB(b[1:])
			if err != nil || uint64(len(b)-1-n) < size {
				return nil, nil, nil, fmt.Errorf("bad subsection size")
			}
			sub := b[1+n : 1+n+int(size)]
			b = b[1+n+int(size):]
			var into map[uint32]string
			switch id {
			case 1:
				into = funcs
			case 7:
				into = globals
			case 9:
				into = segs
			default:
				continue
			}
			count, n, err := wasm.ReadULEB(sub)
			if err != nil {
				return nil, nil, nil, err
			}
			sub = sub[n:]
			for k := uint64(0); k < count; k++ {
				idx, n, err := wasm.ReadULEB(sub)
				if err != nil {
					return nil, nil, nil, err
				}
				sub = sub[n:]
				l, n, err := wasm.ReadULEB(sub)
				if err != nil || uint64(len(sub)-n) < l {
					return nil, nil, nil, fmt.Errorf("bad name")
				}
				into[uint32(idx)] = string(sub[n : n+int(l)])
				sub = sub[n+int(l):]
			}
		}
	}
	return funcs, globals, segs, nil
}

// matchFuncs names every function and finds the input function of each
// defined one: among the objects' functions of its name, the one whose body
// equals it outside the relocated fields.
func (w *wasmReader) matchFuncs(names map[uint32]string, nFuncs int) {
	m := w.m
	w.funcNames = make([]string, nFuncs)
	w.src = make([]funcSrc, len(m.Funcs))
	type cand struct{ file, fn int }
	byName := map[string][]cand{}
	for f, o := range w.objs {
		nImp := o.NumImported(wasm.ExternFunc)
		for _, s := range o.Symbols {
			if s.Kind == wasm.SymFunction && !s.Undefined() {
				byName[s.Name] = append(byName[s.Name], cand{f, int(s.Index) - nImp})
			}
		}
	}
	count := map[string]int{}
	for i := 0; i < nFuncs; i++ {
		count[names[uint32(i)]]++
	}
	for i := 0; i < nFuncs; i++ {
		name, ok := names[uint32(i)]
		if !ok || name == "" {
			name = fmt.Sprintf("func%d", i)
		}
		w.funcNames[i] = name
		if i < w.nImpFuncs {
			continue
		}
		d := i - w.nImpFuncs
		w.src[d] = funcSrc{-1, -1}
		if w.free[d] {
			continue
		}
		var hits []cand
		for _, c := range byName[name] {
			if sameBody(&m.Funcs[d], &w.objs[c.file].Funcs[c.fn]) {
				hits = append(hits, c)
			}
		}
		switch {
		case len(hits) == 0 && len(w.objs) > 0 && !strings.HasPrefix(name, "undefined_weak:"):
			w.note("function %s: no input function has its body", name)
		case len(hits) > 0:
			// identical bodies of one name in several objects are
			// interchangeable; the first is taken
			w.src[d] = funcSrc{hits[0].file, hits[0].fn}
		}
		if count[name] > 1 && w.src[d].file >= 0 {
			w.funcNames[i] = name + "@" + filepath.Base(w.objs[w.src[d].file].Name)
		}
	}
}

// sameBody reports whether output function a is input function b with
// only its relocated fields changed.
func sameBody(a, b *wasm.Function) bool {
	if len(a.Code) != len(b.Code) || len(a.Locals) != len(b.Locals) {
		return false
	}
	for k := range a.Locals {
		if a.Locals[k] != b.Locals[k] {
			return false
		}
	}
	masked := make([]bool, len(b.Code))
	for _, r := range b.Relocs {
		for k := 0; k < r.Type.FieldSize() && int(r.Offset)+k < len(masked); k++ {
			masked[int(r.Offset)+k] = true
		}
	}
	for k := range a.Code {
		if !masked[k] && a.Code[k] != b.Code[k] {
			return false
		}
	}
	return true
}

func (w *wasmReader) funcName(i uint32) string {
	if int(i) < len(w.funcNames) {
		return w.funcNames[i]
	}
	return fmt.Sprintf("?func%d", i)
}

// field reads the value of a relocated field.
func field(b []byte, r wasm.Reloc) (int64, bool) {
	n := r.Type.FieldSize()
	if int(r.Offset)+n > len(b) {
		return 0, false
	}
	p := b[r.Offset:]
	switch r.Type {
	case wasm.RTableIndexSLEB, wasm.RMemoryAddrSLEB:
		v, _, err := wasm.ReadSLEB(p[:n])
		return v, err == nil
	case wasm.RTableIndexI32, wasm.RMemoryAddrI32, wasm.RFunctionIndexI32, wasm.RGlobalIndexI32, wasm.RMemoryAddrLocRelI32:
		return int64(binary.LittleEndian.Uint32(p)), true
	}
	v, _, err := wasm.ReadULEB(p[:n])
	return int64(v), err == nil
}

func isMemAddr(t wasm.RelocType) bool {
	return t == wasm.RMemoryAddrLEB || t == wasm.RMemoryAddrSLEB || t == wasm.RMemoryAddrI32
}

// learnSegments learns where the input segments landed from the values of
// the relocated fields that refer to their symbols: first those in code,
// then those in data of segments already placed.
func (w *wasmReader) learnSegments() {
	w.segBase = make([][]int64, len(w.objs))
	for f, o := range w.objs {
		w.segBase[f] = make([]int64, len(o.Segments))
		for i := range w.segBase[f] {
			w.segBase[f][i] = -1
		}
	}
	w.winners()
	learn := func(f int, r wasm.Reloc, v int64) {
		s := &w.objs[f].Symbols[r.Index]
		if s.Kind != wasm.SymData {
			return
		}
		if !s.Local() {
			// the definition the module holds, wherever the reference is
			d, ok := w.winner[s.Name]
			if !ok {
				return
			}
			f, s = d.file, &w.objs[d.file].Symbols[d.fn]
		}
		base := int64(uint32(v-int64(r.Addend))) - int64(s.Offset)
		if w.segBase[f][s.Segment] < 0 {
			w.segBase[f][s.Segment] = base
		}
	}
	for d, src := range w.src {
		if src.file < 0 {
			continue
		}
		code := w.m.Funcs[d].Code
		for _, r := range w.objs[src.file].Funcs[src.fn].Relocs {
			if r.Type == wasm.RMemoryAddrLEB || r.Type == wasm.RMemoryAddrSLEB {
				if v, ok := field(code, r); ok {
					learn(src.file, r, v)
				}
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for f, o := range w.objs {
			for i, seg := range o.Segments {
				base := w.segBase[f][i]
				if base < 0 {
					continue
				}
				b := w.readMem(uint32(base), uint32(len(seg.Data)))
				for _, r := range seg.Relocs {
					if r.Type != wasm.RMemoryAddrI32 {
						continue
					}
					s := &o.Symbols[r.Index]
					tf := f
					if s.Kind == wasm.SymData && !s.Local() {
						d, ok := w.winner[s.Name]
						if !ok {
							continue
						}
						tf, s = d.file, &w.objs[d.file].Symbols[d.fn]
					}
					if s.Kind != wasm.SymData || s.Undefined() || w.segBase[tf][s.Segment] >= 0 {
						continue
					}
					if v, ok := field(b, r); ok {
						learn(f, r, v)
						changed = true
					}
				}
			}
		}
	}
}

// winners finds the definition of each global data symbol that a link
// keeps: the first strong one, else the first weak one.
func (w *wasmReader) winners() {
	w.winner = map[string]funcSrc{}
	strong := map[string]bool{}
	for f, o := range w.objs {
		for i, s := range o.Symbols {
			if s.Kind != wasm.SymData || s.Undefined() || s.Local() {
				continue
			}
			weak := s.Flags&wasm.SymBindingWeak != 0
			if _, ok := w.winner[s.Name]; !ok || !weak && !strong[s.Name] {
				w.winner[s.Name] = funcSrc{f, i}
				strong[s.Name] = !weak
			}
		}
	}
}

// readMem returns n bytes of the initial linear memory at addr (zeros
// where no segment is).
func (w *wasmReader) readMem(addr, n uint32) []byte {
	out := make([]byte, n)
	for _, s := range w.mem {
		lo, hi := max(addr, s.addr), min(uint64(addr)+uint64(n), uint64(s.addr)+uint64(len(s.data)))
		if uint64(lo) < hi {
			copy(out[lo-addr:], s.data[lo-s.addr:hi-uint64(s.addr)])
		}
	}
	return out
}

// dataSymbols lists the input data symbols whose segments were placed,
// names qualified by the object when several objects define the name.
func (w *wasmReader) dataSymbols() {
	defs := map[string]int{}
	for _, o := range w.objs {
		seen := map[string]bool{}
		for _, s := range o.Symbols {
			if s.Kind == wasm.SymData && !s.Undefined() && !seen[s.Name] {
				seen[s.Name] = true
				defs[s.Name]++
			}
		}
	}
	byName := map[string]bool{}
	for f, o := range w.objs {
		for i, s := range o.Symbols {
			if s.Kind != wasm.SymData || s.Undefined() {
				continue
			}
			base := w.segBase[f][s.Segment]
			if base < 0 {
				continue
			}
			name := s.Name
			if !s.Local() {
				if d := w.winner[name]; d.file != f || d.fn != i {
					continue // a definition the link dropped
				}
			} else if defs[name] > 1 {
				name += "@" + filepath.Base(o.Name)
			}
			if byName[name] {
				continue
			}
			byName[name] = true
			w.data = append(w.data, &dataSym{name: name, file: f, sym: i, addr: uint32(base) + s.Offset, size: s.Size})
		}
	}
}

// dataName names address v, preferring the symbol the relocation names
// when v is inside it.
func (w *wasmReader) dataName(v uint32, f int, r wasm.Reloc) string {
	s := &w.objs[f].Symbols[r.Index]
	sym := int(r.Index)
	if s.Kind == wasm.SymData && !s.Local() {
		d, ok := w.winner[s.Name]
		if !ok {
			// a linker-defined or weak undefined symbol: named by the
			// reference, with the address the linker gave it
			if w.opts.NoLayout {
				return fmt.Sprintf("&%s%s", s.Name, offStr(int64(r.Addend)))
			}
			return fmt.Sprintf("&%s%s@%#x", s.Name, offStr(int64(r.Addend)), uint32(int64(v)-int64(r.Addend)))
		}
		f, sym = d.file, d.fn
	}
	var best *dataSym
	for _, d := range w.data {
		if d.file == f && d.sym == sym && v >= d.addr && v <= d.addr+d.size {
			best = d
		}
	}
	if best == nil {
		for _, d := range w.data {
			if v >= d.addr && (v < d.addr+d.size || v == d.addr) && (best == nil || d.name < best.name) {
				best = d
			}
		}
	}
	if best == nil {
		return fmt.Sprintf("?%#x", v)
	}
	return "&" + best.name + offStr(int64(v)-int64(best.addr))
}

func offStr(off int64) string {
	switch {
	case off > 0:
		return fmt.Sprintf("+%#x", off)
	case off < 0:
		return fmt.Sprintf("-%#x", -off)
	}
	return ""
}

// tableName names table slot v by its function.
func (w *wasmReader) tableName(v uint32) string {
	if v == 0 {
		return "null"
	}
	f, ok := w.table[v]
	if !ok {
		return fmt.Sprintf("?slot%d", v)
	}
	return "&" + w.funcName(f)
}

// relocName symbolizes the value v of relocation r of object f.
func (w *wasmReader) relocName(f int, r wasm.Reloc, v int64) string {
	switch r.Type {
	case wasm.RTableIndexSLEB, wasm.RTableIndexI32:
		return w.tableName(uint32(v))
	case wasm.RFunctionIndexLEB, wasm.RFunctionIndexI32:
		return "&" + w.funcName(uint32(v))
	}
	if isMemAddr(r.Type) {
		return w.dataName(uint32(v), f, r)
	}
	return fmt.Sprint(v)
}

func (w *wasmReader) dataSymbol(d *dataSym) *Symbol {
	o := w.objs[d.file]
	s := &o.Symbols[d.sym]
	seg := &o.Segments[s.Segment]
	sec, bss := w.sectionOf(d.addr, seg)
	sym := &Symbol{Name: d.name, Kind: KindObject, Bind: wasmBind(s.Flags), Size: uint64(d.size), Section: sec, Flags: "AW", BSS: bss}
	if strings.HasPrefix(sec, ".rodata") {
		sym.Flags = "A"
	}
	if bss {
		return sym
	}
	sym.Data = w.readMem(d.addr, d.size)
	for _, r := range seg.Relocs {
		if r.Offset < s.Offset || r.Offset+uint32(r.Type.FieldSize()) > s.Offset+s.Size {
			continue
		}
		off := r.Offset - s.Offset
		rr := r
		rr.Offset = off
		v, ok := field(sym.Data, rr)
		if !ok {
			continue
		}
		sym.Pointers = append(sym.Pointers, Pointer{Off: uint64(off), Size: r.Type.FieldSize(), Kind: wasmRelocKind(r.Type), Target: w.relocName(d.file, r, v)})
		for k := 0; k < r.Type.FieldSize(); k++ {
			sym.Data[int(off)+k] = 0
		}
	}
	return sym
}

func wasmRelocKind(t wasm.RelocType) string {
	return strings.ToLower(strings.TrimPrefix(t.String(), "R_WASM_"))
}

// sectionOf names the output segment holding addr: a written one, or .bss
// past them for a .bss input segment.
func (w *wasmReader) sectionOf(addr uint32, seg *wasm.Segment) (string, bool) {
	for _, s := range w.mem {
		if addr >= s.addr && addr < s.addr+uint32(len(s.data)) || addr == s.addr {
			return s.name, false
		}
	}
	if strings.HasPrefix(seg.Name, ".bss") {
		return ".bss", true
	}
	return "?", false
}

func wasmBind(flags uint32) string {
	switch {
	case flags&wasm.SymBindingLocal != 0:
		return BindLocal
	case flags&wasm.SymBindingWeak != 0:
		return BindWeak
	}
	return BindGlobal
}

func (w *wasmReader) funcSymbol(d int) *Symbol {
	idx := w.nImpFuncs + d
	f := &w.m.Funcs[d]
	s := &Symbol{Name: w.funcNames[idx], Kind: KindFunc, Bind: BindGlobal, Section: "code", Flags: "AX"}
	src := w.src[d]
	var relocs []wasm.Reloc
	if src.file >= 0 {
		o := w.objs[src.file]
		relocs = o.Funcs[src.fn].Relocs
		for _, sym := range o.Symbols {
			if sym.Kind == wasm.SymFunction && !sym.Undefined() && int(sym.Index) == src.fn+o.NumImported(wasm.ExternFunc) {
				s.Bind = wasmBind(sym.Flags)
				break
			}
		}
	} else {
		s.Synthetic = true
	}
	var locals []string
	for _, l := range f.Locals {
		locals = append(locals, fmt.Sprintf("%s*%d", l.Type, l.Count))
	}
	insns, err := w.decode(Insn{Op: "locals", Args: locals}, f.Code, src.file, relocs)
	if err != nil {
		w.note("function %s: %v", s.Name, err)
	}
	s.Insns = insns
	s.Size = uint64(len(f.Code))
	return s
}

// errTab decodes ref/wasmgen's error table: _lc_errors_len entries of
// {ptr, len} at _lc_err_table, the names where they point.
func (w *wasmReader) errTab() {
	var tab, n *dataSym
	for _, d := range w.data {
		switch d.name {
		case wasmErrTable:
			tab = d
		case wasmErrLen:
			n = d
		}
	}
	if tab == nil && n == nil {
		return
	}
	et := &ErrTab{}
	w.im.ErrTab = et
	if tab == nil || n == nil || n.size < 4 {
		et.Err = "the error table is incomplete"
		return
	}
	count := binary.LittleEndian.Uint32(w.readMem(n.addr, 4))
	if uint64(count)*8 > uint64(tab.size) {
		et.Err = fmt.Sprintf("%d errors but the table holds %d entries", count, tab.size/8)
		return
	}
	b := w.readMem(tab.addr, 8*count)
	for k := uint32(0); k < count; k++ {
		ptr, l := binary.LittleEndian.Uint32(b[8*k:]), binary.LittleEndian.Uint32(b[8*k+4:])
		if l > 1<<16 {
			et.Err = fmt.Sprintf("error %d: length %d", k+1, l)
			et.Names = nil
			return
		}
		et.Names = append(et.Names, string(w.readMem(ptr, l)))
	}
}

// wasmOps names the opcodes of the MVP and the sign-extension proposal,
// "" for the others.
var wasmOps = func() (t [256]string) {
	for op, name := range wasmOpsMap() {
		t[op] = name
	}
	return t
}()

// wasmOpsMap is wasmOps as a map.
func wasmOpsMap() map[byte]string {
	m := map[byte]string{0x00: "unreachable", 0x01: "nop", 0x02: "block", 0x03: "loop", 0x04: "if", 0x05: "else",
		0x0b: "end", 0x0c: "br", 0x0d: "br_if", 0x0e: "br_table", 0x0f: "return", 0x10: "call", 0x11: "call_indirect",
		0x1a: "drop", 0x1b: "select", 0x1c: "select", 0x20: "local.get", 0x21: "local.set", 0x22: "local.tee",
		0x23: "global.get", 0x24: "global.set", 0x25: "table.get", 0x26: "table.set", 0x3f: "memory.size", 0x40: "memory.grow",
		0x41: "i32.const", 0x42: "i64.const", 0x43: "f32.const", 0x44: "f64.const", 0xd0: "ref.null", 0xd1: "ref.is_null", 0xd2: "ref.func"}
	add := func(first byte, names string) {
		for k, n := range strings.Fields(names) {
			m[first+byte(k)] = n
		}
	}
	add(0x28, "i32.load i64.load f32.load f64.load i32.load8_s i32.load8_u i32.load16_s i32.load16_u i64.load8_s i64.load8_u "+
		"i64.load16_s i64.load16_u i64.load32_s i64.load32_u i32.store i64.store f32.store f64.store i32.store8 i32.store16 "+
		"i64.store8 i64.store16 i64.store32")
	add(0x45, "i32.eqz i32.eq i32.ne i32.lt_s i32.lt_u i32.gt_s i32.gt_u i32.le_s i32.le_u i32.ge_s i32.ge_u "+
		"i64.eqz i64.eq i64.ne i64.lt_s i64.lt_u i64.gt_s i64.gt_u i64.le_s i64.le_u i64.ge_s i64.ge_u "+
		"f32.eq f32.ne f32.lt f32.gt f32.le f32.ge f64.eq f64.ne f64.lt f64.gt f64.le f64.ge "+
		"i32.clz i32.ctz i32.popcnt i32.add i32.sub i32.mul i32.div_s i32.div_u i32.rem_s i32.rem_u i32.and i32.or i32.xor "+
		"i32.shl i32.shr_s i32.shr_u i32.rotl i32.rotr "+
		"i64.clz i64.ctz i64.popcnt i64.add i64.sub i64.mul i64.div_s i64.div_u i64.rem_s i64.rem_u i64.and i64.or i64.xor "+
		"i64.shl i64.shr_s i64.shr_u i64.rotl i64.rotr "+
		"f32.abs f32.neg f32.ceil f32.floor f32.trunc f32.nearest f32.sqrt f32.add f32.sub f32.mul f32.div f32.min f32.max f32.copysign "+
		"f64.abs f64.neg f64.ceil f64.floor f64.trunc f64.nearest f64.sqrt f64.add f64.sub f64.mul f64.div f64.min f64.max f64.copysign "+
		"i32.wrap_i64 i32.trunc_f32_s i32.trunc_f32_u i32.trunc_f64_s i32.trunc_f64_u i64.extend_i32_s i64.extend_i32_u "+
		"i64.trunc_f32_s i64.trunc_f32_u i64.trunc_f64_s i64.trunc_f64_u f32.convert_i32_s f32.convert_i32_u f32.convert_i64_s "+
		"f32.convert_i64_u f32.demote_f64 f64.convert_i32_s f64.convert_i32_u f64.convert_i64_s f64.convert_i64_u f64.promote_f32 "+
		"i32.reinterpret_f32 i64.reinterpret_f64 f32.reinterpret_i32 f64.reinterpret_i64 "+
		"i32.extend8_s i32.extend16_s i64.extend8_s i64.extend16_s i64.extend32_s")
	return m
}

// wasmOpsFC names the 0xfc-prefixed opcodes (saturating truncation, bulk
// memory).
var wasmOpsFC = strings.Fields("i32.trunc_sat_f32_s i32.trunc_sat_f32_u i32.trunc_sat_f64_s i32.trunc_sat_f64_u " +
	"i64.trunc_sat_f32_s i64.trunc_sat_f32_u i64.trunc_sat_f64_s i64.trunc_sat_f64_u memory.init data.drop memory.copy " +
	"memory.fill table.init elem.drop table.copy table.grow table.size table.fill")

// decode decodes a function's code into canonical instructions, after
// head; relocs (of object file, offsets relative to code) say which
// immediates are relocated and so are shown symbolically.
func (w *wasmReader) decode(head Insn, code []byte, file int, relocs []wasm.Reloc) ([]Insn, error) {
	// Instructions are at least a byte each, and so are their operands:
	// the function's instructions and operands are cut from the reader's
	// slabs, which hold room for len(code)+1 of each.
	out, args := append(w.insnSlab(len(code)+1), head), w.argSlab(len(code)+1)
	out, args, err := w.decodeInto(out, args, code, file, relocs)
	w.keepSlabs(out, args)
	return out[:len(out):len(out)], err
}

// decodeInto is decode, appending to out and cutting operand lists from
// args's array (an operand list keeps the array it was cut from when a
// later one grows it); it returns both as they grew.
func (w *wasmReader) decodeInto(out []Insn, args []string, code []byte, file int, relocs []wasm.Reloc) ([]Insn, []string, error) {
	rel := newRelocIndex(relocs)
	p := 0
	u32 := func() (uint32, int, error) {
		v, n, err := wasm.ReadULEB(code[p:])
		if err != nil || v > 0xffffffff {
			return 0, 0, fmt.Errorf("offset %#x: bad LEB128", p)
		}
		return uint32(v), n, nil
	}
	for p < len(code) {
		start := p
		op := code[p]
		p++
		in := Insn{Off: uint64(start), Args: args[len(args):len(args)]}
		name := wasmOps[op]
		ok := name != ""
		if op == 0xfc {
			sub, n, err := u32()
			if err != nil {
				return out, args, err
			}
			p += n
			if int(sub) >= len(wasmOpsFC) {
				return out, args, fmt.Errorf("offset %#x: unknown opcode 0xfc %d", start, sub)
			}
			name, ok = wasmOpsFC[sub], true
			var imms int
			switch {
			case sub == 8 || sub == 10 || sub == 12 || sub == 14:
				imms = 2
			case sub >= 9:
				imms = 1
			}
			for k := 0; k < imms; k++ {
				v, n, err := u32()
				if err != nil {
					return out, args, err
				}
				p += n
				in.Args = append(in.Args, uitoa(v))
			}
		}
		if !ok {
			return out, args, fmt.Errorf("offset %#x: unknown opcode %#x", start, op)
		}
		in.Op = name
		imm := func() (uint32, error) {
			v, n, err := u32()
			if err != nil {
				return 0, err
			}
			p += n
			return v, nil
		}
		sym := func(at int, v int64, plain string) string {
			if r, ok := rel.at(uint32(at)); ok && file >= 0 && r.Type != wasm.RTypeIndexLEB {
				return w.relocName(file, r, v)
			}
			return plain
		}
		var err error
		switch {
		case op == 0x02 || op == 0x03 || op == 0x04:
			if p >= len(code) {
				return out, args, fmt.Errorf("offset %#x: truncated block type", start)
			}
			bt := code[p]
			switch {
			case bt == 0x40:
				p++
			case bt >= 0x7b && bt <= 0x7f || bt == 0x70 || bt == 0x6f:
				in.Args = append(in.Args, wasm.ValType(bt).String())
				p++
			default:
				v, n, e := wasm.ReadSLEB(code[p:])
				if e != nil {
					return out, args, fmt.Errorf("offset %#x: bad block type", start)
				}
				p += n
				in.Args = append(in.Args, w.typeText(uint32(v)))
			}
		case op == 0x0c || op == 0x0d || op >= 0x20 && op <= 0x22 || op == 0x25 || op == 0x26:
			var v uint32
			v, err = imm()
			in.Args = append(in.Args, uitoa(v))
		case op == 0x0e:
			var n uint32
			if n, err = imm(); err == nil {
				if int(n) > len(code)-p {
					return out, args, fmt.Errorf("offset %#x: br_table of %d labels", start, n)
				}
				for k := uint32(0); k <= n && err == nil; k++ {
					var v uint32
					v, err = imm()
					in.Args = append(in.Args, uitoa(v))
				}
			}
		case op == 0x10 || op == 0xd2:
			var v uint32
			v, err = imm()
			in.Args = append(in.Args, w.funcName(v))
		case op == 0x11:
			var t, tab uint32
			if t, err = imm(); err == nil {
				tab, err = imm()
			}
			in.Args = append(in.Args, w.typeText(t), "table"+uitoa(tab))
		case op == 0x23 || op == 0x24:
			var v uint32
			v, err = imm()
			if int(v) < len(w.globalNames) {
				in.Args = append(in.Args, w.globalNames[v])
			} else {
				in.Args = append(in.Args, fmt.Sprintf("?global%d", v))
			}
		case op >= 0x28 && op <= 0x3e:
			var align, off uint32
			if align, err = imm(); err == nil {
				at := p
				off, err = imm()
				offset := ""
				if r, ok := rel.at(uint32(at)); ok && file >= 0 && r.Type != wasm.RTypeIndexLEB {
					offset = "offset=" + w.relocName(file, r, int64(off))
				} else {
					offset = prefixed(&offsetTexts, "offset=", off)
				}
				in.Args = append(in.Args, prefixed(&alignTexts, "align=", align), offset)
			}
		case op == 0x3f || op == 0x40 || op == 0xd0:
			if p >= len(code) {
				return out, args, fmt.Errorf("offset %#x: truncated", start)
			}
			p++
		case op == 0x1c:
			var n uint32
			if n, err = imm(); err == nil {
				if int(n) > len(code)-p {
					return out, args, fmt.Errorf("offset %#x: select of %d types", start, n)
				}
				p += int(n)
			}
		case op == 0x41 || op == 0x42:
			at := p
			v, n, e := wasm.ReadSLEB(code[p:])
			if e != nil {
				return out, args, fmt.Errorf("offset %#x: bad LEB128", p)
			}
			p += n
			in.Args = append(in.Args, sym(at, v, strconv.FormatInt(v, 10)))
		case op == 0x43:
			if p+4 > len(code) {
				return out, args, fmt.Errorf("offset %#x: truncated", start)
			}
			in.Args = append(in.Args, fmt.Sprintf("%#08x", binary.LittleEndian.Uint32(code[p:])))
			p += 4
		case op == 0x44:
			if p+8 > len(code) {
				return out, args, fmt.Errorf("offset %#x: truncated", start)
			}
			in.Args = append(in.Args, fmt.Sprintf("%#016x", binary.LittleEndian.Uint64(code[p:])))
			p += 8
		}
		if err != nil {
			return out, args, err
		}
		in.Len = p - start
		if len(in.Args) == 0 {
			in.Args = nil
		} else if cap(in.Args) == cap(args)-len(args) {
			// Still in args' array (a slice that outgrew it has a
			// larger capacity, and an array of its own).
			args = args[:len(args)+len(in.Args)]
		}
		in.Args = in.Args[:len(in.Args):len(in.Args)]
		out = append(out, in)
	}
	return out, args, nil
}

// smallInts are the decimal texts of 0 to 255.
var smallInts = func() (t [256]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

// uitoa is v in decimal, as fmt.Sprint writes it.
func uitoa(v uint32) string {
	if v < uint32(len(smallInts)) {
		return smallInts[v]
	}
	return strconv.FormatUint(uint64(v), 10)
}

// alignTexts and offsetTexts are "align=N" and "offset=N" for N < 256.
var alignTexts, offsetTexts = prefixedInts("align="), prefixedInts("offset=")

func prefixedInts(prefix string) (t [256]string) {
	for i := range t {
		t[i] = prefix + strconv.Itoa(i)
	}
	return t
}

// prefixed is prefix and v in decimal, from t when v < 256.
func prefixed(t *[256]string, prefix string, v uint32) string {
	if v < uint32(len(t)) {
		return t[v]
	}
	return prefix + strconv.FormatUint(uint64(v), 10)
}

// typeText is a type index's signature, "(i64,i64)->i64".
func (w *wasmReader) typeText(t uint32) string {
	if int(t) >= len(w.m.Types) {
		return fmt.Sprintf("?type%d", t)
	}
	if w.typeTexts == nil {
		w.typeTexts = make([]string, len(w.m.Types))
	}
	if w.typeTexts[t] == "" {
		w.typeTexts[t] = w.makeTypeText(t)
	}
	return w.typeTexts[t]
}

func (w *wasmReader) makeTypeText(t uint32) string {
	ft := w.m.Types[t]
	var ps, rs []string
	for _, p := range ft.Params {
		ps = append(ps, p.String())
	}
	for _, r := range ft.Results {
		rs = append(rs, r.String())
	}
	return "(" + strings.Join(ps, ",") + ")->" + strings.Join(rs, ",")
}
