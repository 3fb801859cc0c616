package wasm

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// The incremental module (incr.Image): the core's regions are the Code
// section's bodies (.text, an indexed region: the i-th slot is function
// i+1) and three active data segments of memory 0 (.rodata, .data and the
// table's cells, .got); .bss is memory no segment covers. The file is
//
//	[0, H)            magic, type (IncrMaxParams+1 types: (i64^n) -> i64),
//	                  function, table, memory, global, export and element
//	                  sections, a custom "lc.pad" section filling the room,
//	                  the Code section's header (id, 5-byte size, 5-byte
//	                  count) and body 0, the null function (`unreachable`),
//	                  whose `end` is the first byte of .text
//	.text             the slots: each is [end of the previous body][5-byte
//	                  body size][locals][code][return][unreachable...], so
//	                  a body fills its slot and ends with the next slot's
//	                  first byte; a free slot is a body of `unreachable`s
//	                  (type 0), the free space past High one more; the last
//	                  25 bytes of the capacity end the last body and hold
//	                  the data section's header and .rodata's segment header
//	.rodata, .data    segments, each region's last 13 bytes the next
//	                  segment's header
//	.got              the table's cells: slot i holds the function index of
//	                  table index i+1 (0 when free); the element segment
//	                  copies them
//	tail              the name section (function names, 5-byte indexes),
//	                  then the data symbols (IncrDataSection)
//
// Body sizes, section sizes and counts are 5-byte LEB128s, patched in
// place. H grows with .text's capacity (HeaderSizeFor), so the headers
// move only when the regions move anyway. Functions reach each other by
// index, so a body that outgrows its slot moves to a free slot or the end
// of the section, its old slot becomes a free body and every call, table
// cell and export naming it is re-patched; nothing is left behind
// (arch.Wasm32's trampolines are 0 bytes).
const (
	// IncrRegionSpan is the address space of each region: the Code
	// section holds up to 8 MiB of bodies, memory 0 up to 8 MiB of each
	// data region.
	IncrRegionSpan = 0x800000
	// IncrBase is the first region's base; the data regions follow.
	IncrBase = 0x10000
	// IncrHeapBase is __heap_base of every incremental module: past the
	// .bss region's address space, so it never moves.
	IncrHeapBase = IncrBase + 5*IncrRegionSpan
	// IncrMaxParams is the most parameters a function of an incremental
	// module may have: type n is (i64^n) -> i64 for n up to it.
	IncrMaxParams = 32
	// IncrFirstFunc is the index of the first slot's function (0 is the
	// null function).
	IncrFirstFunc = 1
	// codeTrailer is what .text keeps at the end of its capacity: the
	// last body's end, the data section header and .rodata's segment
	// header.
	codeTrailer = 1 + 11 + segHeader
	segHeader   = 13 // flags, i32.const, 5-byte offset, end, 5-byte size
	codeHeader  = 11 // id, 5-byte size, 5-byte count
	nullBody    = 7  // 5-byte size, no locals, unreachable
	// minFreeBody is the smallest free body: its end, size and locals,
	// an unreachable and the next end.
	minFreeBody = 8
)

// Wasm opcodes the incremental module writes.
const (
	opUnreachable = 0x00
	opReturn      = 0x0f
)

// IncrImage is the incr.Image of Wasm modules (above).
type IncrImage struct{}

var (
	_ incr.Image         = IncrImage{}
	_ incr.RegionSpanner = IncrImage{}
	_ incr.HeaderSizer   = IncrImage{}
	_ incr.Indexer       = IncrImage{}
	_ incr.PointerLister = IncrImage{}
	_ incr.Tail          = (*incrTail)(nil)
	_ incr.WholeTail     = (*incrTail)(nil)
	_ incr.FileTail      = (*incrTail)(nil)
)

// Format implements incr.Image.
func (IncrImage) Format() obj.Format { return obj.Wasm }

// Arch implements incr.Image.
func (IncrImage) Arch() arch.Arch { return arch.Wasm32{} }

// BaseAddr implements incr.Image.
func (IncrImage) BaseAddr() uint64 { return IncrBase }

// HeaderSize implements incr.Image: the room for the smallest Code
// section (HeaderSizeFor is the room for a state).
func (IncrImage) HeaderSize() uint64 { return incrHeaderSize(incr.MinCap) }

// HeaderSizeFor implements incr.HeaderSizer: room for one function and
// one table entry per 8 bytes of code capacity.
func (IncrImage) HeaderSizeFor(st *incr.State) uint64 {
	return incrHeaderSize(st.Regions[incr.RegText].Cap)
}

func incrHeaderSize(textCap uint64) uint64 { return 4096 + textCap*3/4 }

// FileAlign implements incr.Image: sections are byte-aligned.
func (IncrImage) FileAlign() uint64 { return 1 }

// RegionSpan implements incr.RegionSpanner.
func (IncrImage) RegionSpan() uint64 { return IncrRegionSpan }

// ListsPointers implements incr.PointerLister: the element segment lists
// the table, so the headers are rewritten whenever a table slot is taken
// or freed.
func (IncrImage) ListsPointers() bool { return true }

// IndexedRegion implements incr.Indexer: the Code section.
func (IncrImage) IndexedRegion(name string) bool { return name == incr.RegText }

// Tail implements incr.Image: the name section.
func (IncrImage) Tail(st *incr.State, fl *incr.FileLayout) (incr.Tail, error) {
	names, err := incrFuncNames(st)
	if err != nil {
		return nil, err
	}
	var sub []byte
	sub = AppendULEB(sub, uint64(len(names)))
	for _, n := range names {
		sub = AppendPaddedULEB(sub, n.index)
		sub = appendName(sub, n.name)
	}
	payload := appendName(nil, "name")
	payload = append(payload, 1)
	payload = AppendULEB(payload, uint64(len(sub)))
	payload = append(payload, sub...)
	// Global 0 is __stack_pointer; the segments are the regions.
	sub = appendName(AppendULEB(AppendULEB(nil, 1), 0), "__stack_pointer")
	payload = append(payload, 7)
	payload = AppendULEB(payload, uint64(len(sub)))
	payload = append(payload, sub...)
	sub = AppendULEB(nil, 3)
	for i, n := range []string{".rodata", ".data", ".got"} {
		sub = appendName(AppendULEB(sub, uint64(i)), n)
	}
	payload = append(payload, 9)
	payload = AppendULEB(payload, uint64(len(sub)))
	payload = append(payload, sub...)
	b := []byte{secCustom}
	b = AppendPaddedULEB(b, uint32(len(payload)))
	b = append(b, payload...)
	// The data symbols, for the checks that read the module alone.
	var data []string
	for n, a := range st.Atoms {
		if a.Kind != obj.Text {
			data = append(data, n)
		}
	}
	sort.Strings(data)
	t := &incrTail{index: make(map[string]uint32, len(names)), dataOff: make(map[string]uint64, len(data))}
	for _, n := range names {
		t.index[n.name] = n.index
	}
	payload = appendName(nil, IncrDataSection)
	payload = AppendULEB(payload, uint64(len(data)))
	head := uint64(len(b)) + 1 + 5 // the section's id and size
	for _, n := range data {
		a := st.Atoms[n]
		payload = appendName(payload, n)
		payload = append(payload, byte(a.Kind))
		t.dataOff[n] = fl.TailOff + head + uint64(len(payload))
		payload = AppendPaddedULEB(payload, uint32(a.Addr))
		payload = AppendPaddedULEB(payload, uint32(a.Size))
	}
	b = append(b, secCustom)
	b = AppendPaddedULEB(b, uint32(len(payload)))
	t.bytes = append(b, payload...)
	return t, nil
}

// IncrDataSection names the incremental module's custom section of data
// symbols: a count, then for each datum (sorted by name) its name, its
// obj.SectionKind byte, its address and its size (5-byte ULEB128s, patched
// in place).
const IncrDataSection = "linkcheck.data"

type funcName struct {
	index uint32
	name  string
}

// incrFuncNames lists the functions by index: in the order of the Code
// section's slots.
func incrFuncNames(st *incr.State) ([]funcName, error) {
	text := st.Regions[incr.RegText]
	byAddr := make(map[uint64]string, len(text.Entries))
	for n, a := range st.Atoms {
		if a.Kind == obj.Text {
			byAddr[a.Addr] = n
		}
	}
	names := make([]funcName, 0, len(byAddr))
	for i, e := range text.Entries {
		if n, ok := byAddr[e]; ok {
			names = append(names, funcName{uint32(i) + IncrFirstFunc, n})
			delete(byAddr, e)
		}
	}
	for _, n := range byAddr {
		return nil, fmt.Errorf("function %s has no index", n)
	}
	return names, nil
}

// incrTail is the tail as IncrImage wrote it.
type incrTail struct {
	bytes []byte
	f     io.ReaderAt
	// index is each function's index in the name section; dataOff the
	// file offset of each datum's address in IncrDataSection.
	index   map[string]uint32
	dataOff map[string]uint64
}

// Bytes implements incr.Tail.
func (t *incrTail) Bytes() []byte { return t.bytes }

// WholeTail implements incr.WholeTail: names are in index order, so a
// function whose index changed rewrites the tail.
func (t *incrTail) WholeTail() {}

// SetFile implements incr.FileTail.
func (t *incrTail) SetFile(f io.ReaderAt) { t.f = f }

// Symbol implements incr.Tail: a datum's address and size are patched in
// place; a function that kept its index (grown or shrunk in its slot) has
// nothing to patch; one whose index changed needs the name section
// rewritten (false).
func (t *incrTail) Symbol(st *incr.State, name string) (incr.Chunk, bool) {
	a := st.Atoms[name]
	if a == nil {
		return incr.Chunk{}, false
	}
	if a.Kind == obj.Text {
		i, ok := st.Index(name)
		w, known := t.index[name]
		return incr.Chunk{}, ok && known && uint32(i)+IncrFirstFunc == w
	}
	off, ok := t.dataOff[name]
	if !ok {
		return incr.Chunk{}, false
	}
	b := AppendPaddedULEB(nil, uint32(a.Addr))
	return incr.Chunk{Off: off, Data: AppendPaddedULEB(b, uint32(a.Size))}, true
}

// TypeIndex returns the type index of a function of the incremental module
// from its atom's relocations (WasmBodySizeLEB's addend).
func TypeIndex(relocs []obj.SymReloc) (uint32, bool) {
	for _, r := range relocs {
		if r.Kind == obj.WasmBodySizeLEB {
			return uint32(r.Addend), true
		}
	}
	return 0, false
}

// Headers implements incr.Tail: everything before .text, the framing of
// free bodies inside .text, and the headers between the regions.
func (t *incrTail) Headers(st *incr.State, fl *incr.FileLayout) ([]incr.Chunk, error) {
	text := st.Regions[incr.RegText]
	h := incrHeaderSize(text.Cap)
	if fl.Off[incr.RegText] != h {
		return nil, fmt.Errorf("the Code section at %#x, its header room ends at %#x", fl.Off[incr.RegText], h)
	}
	if text.High+codeTrailer+minFreeBody > text.Cap {
		return nil, fmt.Errorf("the Code section's capacity %#x leaves no room after %#x", text.Cap, text.High)
	}
	entry, ok := st.Index(st.Entry)
	if !ok {
		return nil, fmt.Errorf("no entry function %s", st.Entry)
	}
	byAddr := make(map[uint64]*incr.AtomState, len(text.Entries))
	for _, a := range st.Atoms {
		if a.Kind == obj.Text {
			byAddr[a.Addr] = a
		}
	}
	nfuncs := IncrFirstFunc + len(text.Entries) + 1 // the free body at the end

	var b []byte
	b = append(b, Magic...)
	b = append(b, Version, 0, 0, 0)
	sec := func(id byte, payload []byte) {
		b = append(b, id)
		b = AppendPaddedULEB(b, uint32(len(payload)))
		b = append(b, payload...)
	}
	// Types.
	p := AppendULEB(nil, IncrMaxParams+1)
	for n := 0; n <= IncrMaxParams; n++ {
		p = append(p, 0x60)
		p = AppendULEB(p, uint64(n))
		for i := 0; i < n; i++ {
			p = append(p, byte(I64))
		}
		p = append(p, 1, byte(I64))
	}
	sec(secType, p)
	// Functions: the null one, the slots, the free space at the end.
	p = AppendULEB(nil, uint64(nfuncs))
	p = append(p, 0)
	for _, e := range text.Entries {
		ti := uint32(0)
		if a := byAddr[e]; a != nil {
			if ti, ok = TypeIndex(a.Relocs); !ok || ti > IncrMaxParams {
				return nil, fmt.Errorf("function %s has no type of the module", a.Name)
			}
		}
		p = AppendULEB(p, uint64(ti))
	}
	p = append(p, 0)
	sec(secFunction, p)
	// The table: slot 0 null, then one per GOT slot.
	slots := uint64(st.GOT.Len())
	p = append(AppendULEB(nil, 1), byte(FuncRef), 1)
	p = AppendULEB(p, 1+slots)
	p = AppendULEB(p, 1+slots)
	sec(secTable, p)
	// Memory 0 covers the regions; _start grows it for its stack.
	p = append(AppendULEB(nil, 1), 0)
	p = AppendULEB(p, IncrHeapBase>>16)
	sec(secMemory, p)
	// __stack_pointer.
	p = append(AppendULEB(nil, 1), byte(I32), 1, opI32Const)
	p = AppendSLEB(p, IncrHeapBase)
	p = append(p, opEnd)
	sec(secGlobal, p)
	// Exports: memory, _start.
	p = AppendULEB(nil, 2)
	p = appendName(p, "memory")
	p = append(p, byte(ExternMemory), 0)
	p = appendName(p, st.Entry)
	p = append(p, byte(ExternFunc))
	p = AppendPaddedULEB(p, uint32(entry)+IncrFirstFunc)
	sec(secExport, p)
	// The element segment copies the table's cells.
	cells, err := t.cells(st, fl)
	if err != nil {
		return nil, err
	}
	p = append(AppendULEB(nil, 1), 0, opI32Const, 1, opEnd)
	p = AppendULEB(p, slots)
	for _, c := range cells {
		if int(c) >= nfuncs {
			return nil, fmt.Errorf("table cell names function %d of %d", c, nfuncs)
		}
		p = AppendPaddedULEB(p, c)
	}
	sec(secElem, p)
	// The padding, the Code section's header and the null body.
	pad := int(h) - len(b) - codeHeader - nullBody
	name := "lc.pad"
	if pad < 1+5+1+len(name) {
		return nil, fmt.Errorf("the headers need %d bytes, the room holds %d", len(b)+codeHeader+nullBody, h)
	}
	b = append(b, secCustom)
	b = AppendPaddedULEB(b, uint32(pad-6))
	b = appendName(b, name)
	// The padding's own bytes are not written: they are whatever was
	// there (zeros, or what the header room held before it grew), and a
	// custom section may hold anything. The sections before it only grow
	// (counts, functions and table slots never go down), so they always
	// cover what they held before.
	c := []byte{secCode}
	c = AppendPaddedULEB(c, uint32(5+nullBody+text.Cap-codeTrailer+1))
	c = AppendPaddedULEB(c, uint32(nfuncs))
	c = AppendPaddedULEB(c, 3)
	c = append(c, 0, opUnreachable)
	chunks := []incr.Chunk{{Off: 0, Data: b}, {Off: h - codeHeader - nullBody, Data: c}}

	// Free bodies in .text: each hole, and the space past High.
	textOff := func(addr uint64) uint64 { return fl.Off[incr.RegText] + addr - text.Base }
	frame := func(addr, size uint64) incr.Chunk {
		f := append([]byte{opEnd}, AppendPaddedULEB(nil, uint32(size-5))...)
		return incr.Chunk{Off: textOff(addr), Data: append(f, 0, opUnreachable)}
	}
	for _, hole := range text.Free {
		if hole.Size < minFreeBody {
			return nil, fmt.Errorf("free slot at %#x of %d bytes: too small for a body", hole.Addr, hole.Size)
		}
		chunks = append(chunks, frame(hole.Addr, hole.Size))
	}
	end := text.Base + text.Cap - codeTrailer
	chunks = append(chunks, frame(text.Base+text.High, end-text.Base-text.High))
	// The data section's header, each segment's header.
	ro, da, got := st.Regions[incr.RegROData], st.Regions[incr.RegData], st.Regions[incr.RegGOT]
	d := []byte{opEnd, secData}
	d = AppendPaddedULEB(d, uint32(5+3*segHeader+ro.Cap-segHeader+da.Cap-segHeader+got.Cap))
	d = AppendPaddedULEB(d, 3)
	seg := func(r *incr.Region, size uint64) []byte {
		s := []byte{0, opI32Const}
		s = AppendPaddedSLEB(s, int32(r.Base))
		s = append(s, opEnd)
		return AppendPaddedULEB(s, uint32(size))
	}
	d = append(d, seg(ro, ro.Cap-segHeader)...)
	chunks = append(chunks, incr.Chunk{Off: textOff(end), Data: d})
	chunks = append(chunks,
		incr.Chunk{Off: fl.Off[incr.RegROData] + ro.Cap - segHeader, Data: seg(da, da.Cap-segHeader)},
		incr.Chunk{Off: fl.Off[incr.RegData] + da.Cap - segHeader, Data: seg(got, got.Cap)})
	if fl.TailOff != fl.Off[incr.RegGOT]+got.Cap {
		return nil, fmt.Errorf("the tail at %#x, the table's cells end at %#x", fl.TailOff, fl.Off[incr.RegGOT]+got.Cap)
	}
	return chunks, nil
}

// cells reads the table's cells from the GOT region of the file.
func (t *incrTail) cells(st *incr.State, fl *incr.FileLayout) ([]uint32, error) {
	n := st.GOT.Len()
	if n == 0 {
		return nil, nil
	}
	if t.f == nil {
		return nil, fmt.Errorf("the table's cells cannot be read")
	}
	buf := make([]byte, 4*n)
	if _, err := t.f.ReadAt(buf, int64(fl.Off[incr.RegGOT])); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading the table's cells: %w", err)
	}
	cells := make([]uint32, n)
	for i := range cells {
		cells[i] = binary.LittleEndian.Uint32(buf[4*i:])
	}
	return cells, nil
}

// IncrProgram turns a one-unit Wasm object (ref/wasmgen's, of a whole
// program) into the incremental linker's atoms: one per function, its
// bytes those of its slot's body (above) with the function's relocations
// as obj's Wasm kinds, and one per data segment. What is the same in every
// incremental module is written into the bytes instead of relocated: type
// indexes (type n is (i64^n) -> i64), __stack_pointer (global 0) and
// __heap_base (IncrHeapBase).
func IncrProgram(o *Object) (*obj.Program, error) {
	p := &obj.Program{Format: obj.Wasm}
	nimp := uint32(o.NumImported(ExternFunc))
	funcSym := map[uint32]*Symbol{}
	segSym := map[uint32]*Symbol{}
	for i := range o.Symbols {
		s := &o.Symbols[i]
		if s.Undefined() {
			continue
		}
		switch s.Kind {
		case SymFunction:
			funcSym[s.Index] = s
		case SymData:
			if s.Offset != 0 || segSym[s.Segment] != nil {
				return nil, fmt.Errorf("%s: data symbol %s: %w: more than one datum per segment", o.Name, s.Name, ErrUnsupported)
			}
			segSym[s.Segment] = s
		}
	}
	arity := func(ti uint32) (int, error) {
		if int(ti) >= len(o.Types) {
			return 0, fmt.Errorf("%s: type %d out of range", o.Name, ti)
		}
		t := o.Types[ti]
		if len(t.Params) > IncrMaxParams || len(t.Results) != 1 || t.Results[0] != I64 {
			return 0, fmt.Errorf("%s: type %s: %w in an incremental module", o.Name, t, ErrUnsupported)
		}
		for _, v := range t.Params {
			if v != I64 {
				return 0, fmt.Errorf("%s: type %s: %w in an incremental module", o.Name, t, ErrUnsupported)
			}
		}
		return len(t.Params), nil
	}
	symName := func(i uint32) (*Symbol, error) {
		if int(i) >= len(o.Symbols) {
			return nil, fmt.Errorf("%s: symbol %d out of range", o.Name, i)
		}
		return &o.Symbols[i], nil
	}
	for i, f := range o.Funcs {
		s := funcSym[nimp+uint32(i)]
		if s == nil {
			return nil, fmt.Errorf("%s: function %d has no symbol", o.Name, nimp+uint32(i))
		}
		n, err := arity(f.Type)
		if err != nil {
			return nil, err
		}
		if len(f.Code) == 0 || f.Code[len(f.Code)-1] != opEnd {
			return nil, fmt.Errorf("%s: function %s does not end with end", o.Name, s.Name)
		}
		data := append([]byte{opEnd}, AppendPaddedULEB(nil, 0)...)
		data = AppendULEB(data, uint64(len(f.Locals)))
		for _, l := range f.Locals {
			data = AppendULEB(data, uint64(l.Count))
			data = append(data, byte(l.Type))
		}
		base := uint64(len(data))
		data = append(data, f.Code[:len(f.Code)-1]...)
		data = append(data, opReturn)
		a := &obj.Atom{Name: s.Name, Kind: obj.Text, Align: 1, Data: data, Size: uint64(len(data)), Local: s.Local(),
			Relocs: []obj.SymReloc{{Offset: 1, Kind: obj.WasmBodySizeLEB, Sym: s.Name, Addend: int64(n)}}}
		for _, r := range f.Relocs {
			off := base + uint64(r.Offset)
			if int(r.Offset)+r.Type.FieldSize() > len(f.Code)-1 {
				return nil, fmt.Errorf("%s: %s+%#x: relocation outside the code", o.Name, s.Name, r.Offset)
			}
			field := data[off : off+5]
			switch r.Type {
			case RTypeIndexLEB:
				n, err := arity(r.Index)
				if err != nil {
					return nil, err
				}
				PutPaddedULEB(field, uint32(n))
				continue
			case RGlobalIndexLEB:
				t, err := symName(r.Index)
				if err != nil {
					return nil, err
				}
				if t.Kind != SymGlobal || t.Name != "__stack_pointer" {
					return nil, fmt.Errorf("%s: %s+%#x: global %s: %w in an incremental module", o.Name, s.Name, r.Offset, t.Name, ErrUnsupported)
				}
				PutPaddedULEB(field, 0)
				continue
			}
			t, err := symName(r.Index)
			if err != nil {
				return nil, err
			}
			sr := obj.SymReloc{Offset: off, Sym: t.Name, Addend: int64(r.Addend)}
			switch r.Type {
			case RFunctionIndexLEB:
				sr.Kind, sr.Addend = obj.WasmFuncIndexLEB, IncrFirstFunc
			case RTableIndexSLEB:
				sr.Kind = obj.WasmTableIndexSLEB
			case RMemoryAddrLEB, RMemoryAddrSLEB:
				if t.Undefined() {
					if t.Name != "__heap_base" || r.Type != RMemoryAddrSLEB {
						return nil, fmt.Errorf("%s: %s+%#x: %s: %w in an incremental module", o.Name, s.Name, r.Offset, t.Name, ErrUnsupported)
					}
					PutPaddedSLEB(field, int32(IncrHeapBase+int64(r.Addend)))
					continue
				}
				sr.Kind = obj.WasmAddrLEB
				if r.Type == RMemoryAddrSLEB {
					sr.Kind = obj.WasmAddrSLEB
				}
			default:
				return nil, fmt.Errorf("%s: %s+%#x: %s: %w in an incremental module", o.Name, s.Name, r.Offset, r.Type, ErrUnsupported)
			}
			a.Relocs = append(a.Relocs, sr)
		}
		clearFields(a)
		p.Atoms = append(p.Atoms, a)
	}
	for j, g := range o.Segments {
		s := segSym[uint32(j)]
		if s == nil {
			return nil, fmt.Errorf("%s: segment %s has no symbol", o.Name, g.Name)
		}
		a := &obj.Atom{Name: s.Name, Align: 1 << g.Align, Size: uint64(len(g.Data)), Local: s.Local()}
		switch {
		case strings.HasPrefix(g.Name, ".rodata"):
			a.Kind = obj.ROData
		case strings.HasPrefix(g.Name, ".data"):
			a.Kind = obj.Data
		case strings.HasPrefix(g.Name, ".bss"):
			a.Kind = obj.BSS
		default:
			return nil, fmt.Errorf("%s: segment %s: %w in an incremental module", o.Name, g.Name, ErrUnsupported)
		}
		if a.Kind != obj.BSS {
			a.Data = append([]byte(nil), g.Data...)
		}
		for _, r := range g.Relocs {
			t, err := symName(r.Index)
			if err != nil {
				return nil, err
			}
			sr := obj.SymReloc{Offset: uint64(r.Offset), Sym: t.Name, Addend: int64(r.Addend)}
			switch r.Type {
			case RMemoryAddrI32:
				sr.Kind = obj.Abs32
			case RTableIndexI32:
				sr.Kind = obj.WasmTableIndexI32
			default:
				return nil, fmt.Errorf("%s: segment %s+%#x: %s: %w in an incremental module", o.Name, g.Name, r.Offset, r.Type, ErrUnsupported)
			}
			if t.Undefined() || a.Kind == obj.BSS {
				return nil, fmt.Errorf("%s: segment %s+%#x: %s: %w in an incremental module", o.Name, g.Name, r.Offset, t.Name, ErrUnsupported)
			}
			a.Relocs = append(a.Relocs, sr)
		}
		clearFields(a)
		p.Atoms = append(p.Atoms, a)
	}
	return p, nil
}

// clearFields zeroes the relocated fields of a, as the incremental core
// expects them (it hashes an atom's bytes in the file with them cleared).
func clearFields(a *obj.Atom) {
	for _, r := range a.Relocs {
		if end := r.Offset + uint64(r.Kind.Size()); end <= uint64(len(a.Data)) {
			clear(a.Data[r.Offset:end])
		}
	}
}
