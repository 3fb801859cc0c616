package invariant

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/wasm"
	"github.com/linkcheck/linkcheck/ref/wasmgen"
)

// The Wasm invariants (docs/incremental.md, "Wasm"): an incremental module
// is read on its own — sections, bodies, the element segment, exports, the
// data segments, the name section and the data symbols (the
// linkcheck.data custom section) — by a decoder independent of the
// linker's writer, and judged against the compiled version:
//
//	3  every table slot (element entry, and its cell in the .got
//	   segment) names the function its table-index fields mean, no slot
//	   names a function twice or one that takes no address
//	4  every call's function index names its callee; a body no function
//	   holds is free (`unreachable`s)
//	5  sections in order, every body inside the Code section and framed by
//	   its size, no two bodies or data overlapping, the function section's
//	   type of each function its own, data inside their segments, aligned
//	6  every function and datum named, the export _start names the entry,
//	   memory addresses hold the current address
//	7  the error table decodes to the current names
type wasmModule struct {
	sections []wasmSection
	types    []int // parameter counts of (i64^n) -> i64 types, -1 for others
	funcType []uint32
	table    uint32 // table 0's minimum
	elem     []uint32
	exports  map[string]uint32 // function exports
	memory   bool              // memory 0 exported as "memory"
	pages    uint32
	bodies   []wasmBody
	segs     []wasmSeg
	names    map[uint32]string
	byName   map[string]uint32
	data     map[string]wasmDatum
}

type wasmSection struct {
	id       byte
	off, end int // payload
}

type wasmBody struct {
	off, end int // after the size LEB, to the body's last byte inclusive+1
}

type wasmSeg struct {
	addr uint32
	data []byte
}

type wasmDatum struct {
	kind       obj.SectionKind
	addr, size uint64
}

// wasmReader decodes a module with bounds checks.
type wasmReader struct {
	b   []byte
	pos int
	err error
}

func (r *wasmReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("offset %#x: %s", r.pos, fmt.Sprintf(format, args...))
	}
}

func (r *wasmReader) byte() byte {
	if r.err != nil || r.pos >= len(r.b) {
		r.fail("truncated")
		return 0
	}
	r.pos++
	return r.b[r.pos-1]
}

func (r *wasmReader) uleb() uint64 {
	if r.err != nil {
		return 0
	}
	v, n, err := wasm.ReadULEB(r.b[r.pos:])
	if err != nil {
		r.fail("%v", err)
		return 0
	}
	r.pos += n
	return v
}

func (r *wasmReader) u32() uint32 {
	v := r.uleb()
	if v > 0xffffffff {
		r.fail("%d does not fit 32 bits", v)
	}
	return uint32(v)
}

func (r *wasmReader) bytes(n uint64) []byte {
	if r.err != nil || n > uint64(len(r.b)-r.pos) {
		r.fail("truncated: %d bytes wanted", n)
		return nil
	}
	b := r.b[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b
}

func (r *wasmReader) name() string { return string(r.bytes(r.uleb())) }

// count reads a vector length of elements of at least min bytes.
func (r *wasmReader) count(min int) int {
	n := r.uleb()
	if r.err == nil && n*uint64(min) > uint64(len(r.b)-r.pos) {
		r.fail("count %d larger than what follows", n)
		return 0
	}
	return int(n)
}

// i32Const reads `i32.const V end`.
func (r *wasmReader) i32Const() uint32 {
	if op := r.byte(); op != 0x41 {
		r.fail("offset expression starts with %#x, not i32.const", op)
		return 0
	}
	v, n, err := wasm.ReadSLEB(r.b[r.pos:])
	if err != nil {
		r.fail("%v", err)
		return 0
	}
	r.pos += n
	if op := r.byte(); op != 0x0b {
		r.fail("offset expression not ended")
	}
	return uint32(v)
}

// readWasmModule decodes an incremental module.
// wasmOrder is each known section id's place in a module (0: unknown);
// never written.
var wasmOrder = [256]int8{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, 12: 10, 10: 11, 11: 12}

func readWasmModule(exe []byte) (*wasmModule, error) {
	if len(exe) < 8 || string(exe[:4]) != wasm.Magic || binary.LittleEndian.Uint32(exe[4:]) != wasm.Version {
		return nil, fmt.Errorf("not a Wasm module")
	}
	m := &wasmModule{exports: map[string]uint32{}, names: map[uint32]string{}, byName: map[string]uint32{}, data: map[string]wasmDatum{}}
	r := &wasmReader{b: exe, pos: 8}
	last := byte(0)
	for r.err == nil && r.pos < len(exe) {
		id := r.byte()
		size := r.uleb()
		start := r.pos
		payload := r.bytes(size)
		if r.err != nil {
			break
		}
		if id != 0 {
			if wasmOrder[id] == 0 || wasmOrder[id] <= wasmOrder[last] {
				return nil, fmt.Errorf("section %d at %#x out of order", id, start)
			}
			last = id
		}
		m.sections = append(m.sections, wasmSection{id, start, start + int(size)})
		s := &wasmReader{b: exe[:start+int(size)], pos: start}
		m.section(id, s, payload)
		if s.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, s.err)
		}
		if s.pos != start+int(size) {
			return nil, fmt.Errorf("section %d at %#x: %d bytes left over", id, start, start+int(size)-s.pos)
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(m.bodies) != len(m.funcType) {
		return nil, fmt.Errorf("%d bodies for %d functions", len(m.bodies), len(m.funcType))
	}
	return m, nil
}

func (m *wasmModule) section(id byte, r *wasmReader, payload []byte) {
	switch id {
	case 0:
		switch r.name() {
		case "name":
			for r.err == nil && r.pos < len(r.b) {
				sub := r.byte()
				n := r.uleb()
				end := r.pos + int(n)
				if sub != 1 {
					r.bytes(n)
					continue
				}
				c := r.count(2)
				if len(m.names) == 0 {
					m.names, m.byName = make(map[uint32]string, c), make(map[string]uint32, c)
				}
				for i := 0; i < c; i++ {
					idx, name := r.u32(), r.name()
					if _, dup := m.byName[name]; dup {
						r.fail("function name %s given twice", name)
					}
					m.names[idx], m.byName[name] = name, idx
				}
				if r.pos != end {
					r.fail("function names subsection size")
				}
			}
		case wasm.IncrDataSection:
			c := r.count(4)
			if len(m.data) == 0 {
				m.data = make(map[string]wasmDatum, c)
			}
			for i := 0; i < c; i++ {
				name := r.name()
				d := wasmDatum{kind: obj.SectionKind(r.byte()), addr: r.uleb(), size: r.uleb()}
				m.data[name] = d
			}
		default:
			r.pos = len(r.b)
		}
	case 1:
		for i, c := 0, r.count(3); i < c; i++ {
			if r.byte() != 0x60 {
				r.fail("type %d is not a function type", i)
			}
			np := r.count(1)
			n := np
			for j := 0; j < np; j++ {
				if r.byte() != byte(wasm.I64) {
					n = -1
				}
			}
			nr := r.count(1)
			if nr != 1 || r.byte() != byte(wasm.I64) {
				n = -1
			}
			for j := 1; j < nr; j++ {
				r.byte()
			}
			m.types = append(m.types, n)
		}
	case 3:
		for i, c := 0, r.count(1); i < c; i++ {
			t := r.u32()
			if int(t) >= len(m.types) {
				r.fail("function %d: type %d out of range", i, t)
			}
			m.funcType = append(m.funcType, t)
		}
	case 4:
		if r.count(3) != 1 || r.byte() != byte(wasm.FuncRef) {
			r.fail("want one funcref table")
		}
		flags := r.byte()
		m.table = r.u32()
		if flags&1 != 0 {
			r.u32()
		}
	case 5:
		if r.count(2) != 1 {
			r.fail("want one memory")
		}
		flags := r.byte()
		m.pages = r.u32()
		if flags&1 != 0 {
			r.u32()
		}
	case 6:
		for i, c := 0, r.count(4); i < c; i++ {
			r.byte()
			r.byte()
			r.i32Const()
		}
	case 7:
		for i, c := 0, r.count(3); i < c; i++ {
			name := r.name()
			kind, idx := r.byte(), r.u32()
			switch {
			case kind == byte(wasm.ExternFunc):
				m.exports[name] = idx
			case kind == byte(wasm.ExternMemory) && name == "memory" && idx == 0:
				m.memory = true
			}
		}
	case 9:
		if r.count(3) != 1 || r.u32() != 0 {
			r.fail("want one active element segment of table 0")
		}
		if off := r.i32Const(); off != 1 {
			r.fail("element segment at %d, not 1", off)
		}
		for i, c := 0, r.count(1); i < c; i++ {
			m.elem = append(m.elem, r.u32())
		}
	case 10:
		for i, c := 0, r.count(2); i < c; i++ {
			n := r.uleb()
			start := r.pos
			r.bytes(n)
			if n == 0 || r.err == nil && r.b[r.pos-1] != 0x0b {
				r.fail("body %d does not end with end", i)
			}
			m.bodies = append(m.bodies, wasmBody{start, start + int(n)})
		}
	case 11:
		for i, c := 0, r.count(4); i < c; i++ {
			if r.u32() != 0 {
				r.fail("data segment %d is not active in memory 0", i)
			}
			addr := r.i32Const()
			m.segs = append(m.segs, wasmSeg{addr, r.bytes(r.uleb())})
		}
	default:
		r.pos = len(r.b)
	}
	_ = payload
}

// mem reads n bytes of memory 0 at addr from the data segments, false when
// no segment holds them whole.
func (m *wasmModule) mem(addr, n uint64) ([]byte, bool) {
	for _, s := range m.segs {
		if addr >= uint64(s.addr) && addr+n <= uint64(s.addr)+uint64(len(s.data)) {
			return s.data[addr-uint64(s.addr) : addr-uint64(s.addr)+n], true
		}
	}
	return nil, false
}

// funcName names function index i ("" for a free body).
func (m *wasmModule) funcName(i uint64) string {
	if i > 0xffffffff {
		return ""
	}
	return m.names[uint32(i)]
}

// tableFunc is the function table index t holds (false when out of range).
func (m *wasmModule) tableFunc(t uint64) (uint32, bool) {
	if t == 0 || t > uint64(len(m.elem)) || t >= uint64(m.table) {
		return 0, false
	}
	return m.elem[t-1], true
}

// readPadded decodes a relocated field: a 5-byte LEB128 (signed or not) or
// a 4-byte word.
func readPadded(k obj.RelocKind, b []byte) (uint64, bool) {
	if len(b) < k.Size() {
		return 0, false
	}
	switch k {
	case obj.Abs32, obj.WasmTableIndexI32:
		return uint64(binary.LittleEndian.Uint32(b)), true
	case obj.WasmAddrSLEB, obj.WasmTableIndexSLEB:
		v, n, err := wasm.ReadSLEB(b[:5])
		return uint64(uint32(v)), err == nil && n == 5
	}
	v, n, err := wasm.ReadULEB(b[:5])
	return v, err == nil && n == 5
}

// checkWasm checks invariants 3 to 7 of an incremental Wasm module against
// the compiled version prog (module m).
func checkWasm(exe []byte, prog *obj.Program, m *ir.Module) error {
	mod, err := readWasmModule(exe)
	if err != nil {
		return fmt.Errorf("invariant: reading the module: %w", err)
	}
	var errs Error
	add := func(inv int, sym string, addr uint64, format string, args ...any) {
		errs = append(errs, Violation{Invariant: inv, Symbol: sym, Addr: addr, Msg: fmt.Sprintf(format, args...)})
	}
	// Table-index fields, to check the slots against.
	taken := make(map[string]bool, len(prog.Atoms))
	tableOf := make(map[uint64]string, len(mod.elem))
	field := func(a *obj.Atom, r obj.SymReloc, have []byte, where uint64) {
		v, ok := readPadded(r.Kind, have)
		if !ok {
			add(5, a.Name, where, "+%#x: %s field % x is not a padded field", r.Offset, r.Kind, have)
			return
		}
		switch r.Kind {
		case obj.WasmFuncIndexLEB:
			if n := mod.funcName(v); n != r.Sym {
				add(4, a.Name, where, "+%#x: call of function %d (%q), want %s", r.Offset, v, n, r.Sym)
			}
		case obj.WasmTableIndexSLEB, obj.WasmTableIndexI32:
			taken[r.Sym] = true
			f, ok := mod.tableFunc(v)
			if !ok {
				add(3, a.Name, where, "+%#x: table index %d of %s outside the table", r.Offset, v, r.Sym)
				return
			}
			if n := mod.funcName(uint64(f)); n != r.Sym {
				add(3, a.Name, where, "+%#x: table index %d holds function %d (%q), want %s", r.Offset, v, f, n, r.Sym)
			}
			if s, dup := tableOf[v]; dup && s != r.Sym {
				add(3, a.Name, where, "+%#x: table index %d serves %s and %s", r.Offset, v, s, r.Sym)
			}
			tableOf[v] = r.Sym
		case obj.WasmAddrLEB, obj.WasmAddrSLEB, obj.Abs32:
			d, ok := mod.data[r.Sym]
			if !ok {
				add(6, a.Name, where, "+%#x: address of %s, which the module does not list", r.Offset, r.Sym)
				return
			}
			if want := uint64(uint32(int64(d.addr) + r.Addend)); v != want {
				add(6, a.Name, where, "+%#x: %s holds %#x, want &%s%+d = %#x", r.Offset, r.Kind, v, r.Sym, r.Addend, want)
			}
		case obj.WasmBodySizeLEB:
			// the body's framing: checked with the body
		default:
			add(5, a.Name, where, "+%#x: relocation kind %s in a Wasm module", r.Offset, r.Kind)
		}
	}
	funcs := make([]bool, len(mod.bodies)) // the bodies an atom holds
	live := make(map[string]bool, len(prog.Atoms))
	var masked []byte // the bytes of an atom outside its relocated fields
	for _, a := range prog.Atoms {
		live[a.Name] = true
		if a.Kind != obj.Text {
			continue
		}
		idx, ok := mod.byName[a.Name]
		if !ok || int(idx) >= len(mod.bodies) {
			add(6, a.Name, 0, "no function of the module is named %s", a.Name)
			continue
		}
		funcs[idx] = true // idx < len(mod.bodies)
		b := mod.bodies[idx]
		body := exe[b.off:b.end]
		want := a.Data[6:] // locals, code, return
		if ti, ok := wasm.TypeIndex(a.Relocs); !ok || mod.funcType[idx] != ti || mod.types[ti] != int(ti) {
			add(5, a.Name, uint64(b.off), "function %d has type %d, want (i64^%d) -> i64", idx, mod.funcType[idx], ti)
		}
		if len(body) < len(want)+1 {
			add(5, a.Name, uint64(b.off), "body of %d bytes, the function needs %d", len(body), len(want)+1)
			continue
		}
		masked = append(masked[:0], body[:len(want)]...)
		for _, r := range a.Relocs {
			if r.Offset < 6 {
				continue
			}
			o := r.Offset - 6
			field(a, r, body[o:o+uint64(r.Kind.Size())], uint64(b.off)+o)
			clear(masked[o : o+uint64(r.Kind.Size())])
		}
		if !bytes.Equal(masked, want) {
			add(5, a.Name, uint64(b.off), "the body's code is not the function's")
		}
		if rest := body[len(want) : len(body)-1]; !allZero(rest) {
			add(5, a.Name, uint64(b.off)+uint64(len(want)), "the body's padding holds something other than unreachable")
		}
	}
	// Free bodies: every function no atom holds.
	for i, b := range mod.bodies {
		if funcs[i] {
			continue
		}
		if n := mod.names[uint32(i)]; n != "" {
			add(6, n, uint64(b.off), "function %d is named %s, which the version does not have", i, n)
		}
		body := exe[b.off:b.end]
		if len(body) < 2 || !allZero(body[:len(body)-1]) || mod.types[mod.funcType[i]] < 0 {
			add(4, "", uint64(b.off), "function %d belongs to no function of the version and is not free (unreachable)", i)
		}
	}
	// Data.
	type span struct {
		lo, hi uint64
		name   string
	}
	var spans []span
	for _, a := range prog.Atoms {
		if a.Kind == obj.Text {
			continue
		}
		d, ok := mod.data[a.Name]
		if !ok {
			add(6, a.Name, 0, "missing from the module's data symbols")
			continue
		}
		if d.size != a.Size || d.kind != a.Kind {
			add(6, a.Name, d.addr, "listed as %d bytes of %s, the datum is %d bytes of %s", d.size, d.kind, a.Size, a.Kind)
		}
		if a.Align > 1 && d.addr%a.Align != 0 {
			add(5, a.Name, d.addr, "at %#x, not %d-aligned", d.addr, a.Align)
		}
		spans = append(spans, span{d.addr, d.addr + a.Size, a.Name})
		if a.Kind == obj.BSS {
			if _, inSeg := mod.mem(d.addr, max(a.Size, 1)); inSeg || d.addr+a.Size > uint64(mod.pages)<<16 {
				add(5, a.Name, d.addr, "a .bss datum inside a data segment or past the memory")
			}
			continue
		}
		have, ok := mod.mem(d.addr, a.Size)
		if !ok {
			add(5, a.Name, d.addr, "[%#x, +%d) is in no data segment", d.addr, a.Size)
			continue
		}
		masked = append(masked[:0], have...)
		for _, r := range a.Relocs {
			w := uint64(r.Kind.Size())
			if r.Offset+w > a.Size {
				continue
			}
			field(a, r, have[r.Offset:r.Offset+w], d.addr+r.Offset)
			clear(masked[r.Offset : r.Offset+w])
		}
		if !bytes.Equal(masked, a.Data) {
			add(5, a.Name, d.addr, "its bytes are not the datum's")
		}
	}
	for n, d := range mod.data {
		if !live[n] {
			add(6, n, d.addr, "a data symbol of no datum of the version")
		}
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].lo < spans[j].lo })
	for i := 1; i < len(spans); i++ {
		if spans[i].lo < spans[i-1].hi {
			add(5, spans[i].name, spans[i].lo, "overlaps %s [%#x, %#x)", spans[i-1].name, spans[i-1].lo, spans[i-1].hi)
		}
	}
	// The table: one slot per function whose address is taken, each
	// slot's cell in memory (the .got segment) equal to its element.
	seen := map[uint32]int{}
	for i, f := range mod.elem {
		if f == 0 {
			continue
		}
		n := mod.funcName(uint64(f))
		if !taken[n] {
			add(3, n, uint64(i+1), "table index %d holds function %d (%q), whose address the version does not take", i+1, f, n)
		}
		if j, dup := seen[f]; dup {
			add(3, n, uint64(i+1), "table indexes %d and %d both hold function %d", j, i+1, f)
		}
		seen[f] = i + 1
	}
	if uint64(len(mod.elem))+1 != uint64(mod.table) {
		add(3, "", 0, "the table has %d slots, the element segment fills %d", mod.table, len(mod.elem)+1)
	}
	if len(mod.segs) == 3 && len(mod.segs[2].data) >= 4*len(mod.elem) {
		for i, f := range mod.elem {
			if c := binary.LittleEndian.Uint32(mod.segs[2].data[4*i:]); c != f {
				add(3, mod.funcName(uint64(f)), uint64(i+1), "table index %d: the element holds function %d, its cell %d", i+1, f, c)
			}
		}
	} else {
		add(5, "", 0, "%d data segments, want .rodata, .data and the table's cells", len(mod.segs))
	}
	// Exports.
	if f, ok := mod.exports[wasmgen.EntrySymbol]; !ok || mod.funcName(uint64(f)) != wasmgen.EntrySymbol {
		add(6, wasmgen.EntrySymbol, 0, "the export %s names function %d (%q)", wasmgen.EntrySymbol, f, mod.funcName(uint64(f)))
	}
	if !mod.memory {
		add(6, "memory", 0, "memory 0 is not exported")
	}
	// The error table.
	if len(m.Errors) > 0 || live[wasmgen.ErrTableSymbol] {
		checkWasmErrors(mod, m.Errors, add)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// checkWasmErrors decodes ref/wasmgen's error table from memory.
func checkWasmErrors(mod *wasmModule, names []string, add func(int, string, uint64, string, ...any)) {
	lenSym, tab := mod.data[wasmgen.ErrorsLenSymbol], mod.data[wasmgen.ErrTableSymbol]
	b, ok := mod.mem(lenSym.addr, 4)
	if !ok {
		add(7, wasmgen.ErrorsLenSymbol, lenSym.addr, "the error count is not in memory")
		return
	}
	if n := binary.LittleEndian.Uint32(b); int(n) != len(names) {
		add(7, wasmgen.ErrorsLenSymbol, lenSym.addr, "%d errors, the version has %d", n, len(names))
	}
	for k, want := range names {
		e, ok := mod.mem(tab.addr+8*uint64(k), 8)
		if !ok {
			add(7, wasmgen.ErrTableSymbol, tab.addr, "error %d's slice is not in memory", k+1)
			return
		}
		ptr, n := binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint32(e[4:])
		got, ok := mod.mem(uint64(ptr), uint64(n)+1)
		if !ok || string(got[:n]) != want || got[n] != 0 {
			add(7, wasmgen.ErrTableSymbol, tab.addr+8*uint64(k), "error %d is {%#x, %d}: %q, want %q", k+1, ptr, n, got, want)
		}
	}
}

// allZero reports whether every byte of b is 0 (unreachable, in code),
// eight at a time.
func allZero(b []byte) bool {
	return skipFill(b, 0) == uint64(len(b))
}
