package wasm

import (
	"fmt"
	"sort"
	"strings"
)

// MaxObjectSize bounds the input of ReadObject.
const MaxObjectSize = 1 << 30

// ReadObject decodes a Wasm relocatable object (one with a "linking"
// section, as clang -c, wasmgen or WriteObject make) into the model. name
// is the file name used in messages.
//
// The reader is bounded: every count is checked against the bytes left
// before anything is allocated for it, so the memory it allocates is
// proportional to the input; no input makes it panic. Errors name the file,
// the offset and what is wrong, and wrap ErrMalformed (not a valid object)
// or ErrUnsupported (a valid feature the model does not hold: the start
// section, tags, comdats, element segments other than active ones of table
// 0, data segments placed by anything but i32.const, linking version other
// than 2). Function bodies are not decoded beyond their locals: the code
// generator and linker need only the relocated fields, which are checked
// (in bounds, sorted, padded LEB128 of the right width, symbol of the right
// kind) by Validate, which every returned object has passed.
func ReadObject(name string, data []byte) (*Object, error) {
	if len(data) > MaxObjectSize {
		return nil, fmt.Errorf("%s: %w: %d bytes, more than %d", name, ErrMalformed, len(data), MaxObjectSize)
	}
	r := &reader{name: name, data: data, o: &Object{Name: name}, at: make(map[loc]int)}
	if err := r.read(); err != nil {
		return nil, err
	}
	if err := r.o.validate(CheckOptions{}, r.locate); err != nil {
		return nil, err
	}
	r.o.at = r.at
	return r.o, nil
}

// ReadModule reads a linked module (wasm-ld's output) into the same model,
// bounded and checked as ReadObject reads objects: no linking or
// relocation sections, so no symbols; the custom sections (name,
// producers, target_features) are kept in Customs; Segments have their
// addresses in Offset.
func ReadModule(name string, data []byte) (*Object, error) {
	if len(data) > MaxObjectSize {
		return nil, fmt.Errorf("%s: %w: %d bytes, more than %d", name, ErrMalformed, len(data), MaxObjectSize)
	}
	r := &reader{name: name, data: data, o: &Object{Name: name}, at: make(map[loc]int), module: true}
	if err := r.read(); err != nil {
		return nil, err
	}
	if err := r.o.validate(CheckOptions{}, r.locate); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r.o.at = r.at
	return r.o, nil
}

// sectionRef says what a section of the file is, for reloc targets and
// section symbols.
type sectionRef struct {
	id     byte
	custom int // index into Object.Customs for a kept custom section, else -1
}

type reader struct {
	name   string
	module bool // a linked module: no linking or reloc sections
	data   []byte
	o      *Object
	// at is the file offset of each entity's encoding (for messages).
	at map[loc]int
	// sections lists every section of the file in order.
	sections []sectionRef
	// codeStart[i], codeEnd[i] delimit function i's Code in the code
	// section's payload; segStart/segEnd the same for segments.
	codeStart, codeEnd []int
	segStart, segEnd   []int
	nFuncDecls         int
	funcTypes          []uint32
	haveDataCount      bool
	dataCount          int
	linking            *rawSection
	relocs             []rawSection
}

type rawSection struct {
	index int // the section's index in the file
	off   int // file offset of the payload (after the name)
	data  []byte
}

func (r *reader) locate(l loc) int {
	if off, ok := r.at[l]; ok {
		return off
	}
	return -1
}

func (r *reader) errorf(off int, format string, args ...any) error {
	return fmt.Errorf("%s: %w: offset %#x: %s", r.name, ErrMalformed, off, fmt.Sprintf(format, args...))
}

func (r *reader) unsupported(off int, format string, args ...any) error {
	return fmt.Errorf("%s: %w: offset %#x: %s", r.name, ErrUnsupported, off, fmt.Sprintf(format, args...))
}

// cursor decodes a byte range of the file.
type cursor struct {
	r    *reader
	b    []byte
	base int // file offset of b[0]
	pos  int
}

func (r *reader) cursor(off int, b []byte) *cursor { return &cursor{r: r, b: b, base: off} }

func (c *cursor) off() int  { return c.base + c.pos }
func (c *cursor) left() int { return len(c.b) - c.pos }
func (c *cursor) done() bool {
	return c.pos >= len(c.b)
}

func (c *cursor) errorf(format string, args ...any) error {
	return c.r.errorf(c.off(), format, args...)
}

func (c *cursor) byte(what string) (byte, error) {
	if c.pos >= len(c.b) {
		return 0, c.errorf("%s: unexpected end of section", what)
	}
	v := c.b[c.pos]
	c.pos++
	return v, nil
}

func (c *cursor) u32(what string) (uint32, error) {
	v, n, err := readULEB(c.b[c.pos:], 32)
	if err != nil {
		return 0, c.errorf("%s: %v", what, err)
	}
	c.pos += n
	return uint32(v), nil
}

func (c *cursor) s32(what string) (int32, error) {
	v, n, err := readSLEB(c.b[c.pos:], 32)
	if err != nil {
		return 0, c.errorf("%s: %v", what, err)
	}
	c.pos += n
	return int32(v), nil
}

func (c *cursor) bytes(n int, what string) ([]byte, error) {
	if n < 0 || n > c.left() {
		return nil, c.errorf("%s: %d bytes, only %d left in the section", what, n, c.left())
	}
	b := c.b[c.pos : c.pos+n]
	c.pos += n
	return b, nil
}

func (c *cursor) name(what string) (string, error) {
	n, err := c.u32(what + " length")
	if err != nil {
		return "", err
	}
	b, err := c.bytes(int(n), what)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// count reads a vector length and checks that count elements of at least
// minSize bytes each fit in what is left.
func (c *cursor) count(what string, minSize int) (int, error) {
	off := c.off()
	n, err := c.u32(what + " count")
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(minSize) > uint64(c.left()) {
		return 0, c.r.errorf(off, "%s count %d does not fit in the %d bytes left", what, n, c.left())
	}
	return int(n), nil
}

func (c *cursor) end(what string) error {
	if !c.done() {
		return c.errorf("%s: %d trailing bytes", what, c.left())
	}
	return nil
}

func (c *cursor) valType(what string) (ValType, error) {
	off := c.off()
	b, err := c.byte(what)
	if err != nil {
		return 0, err
	}
	t := ValType(b)
	if !t.isValue() {
		return 0, c.r.errorf(off, "%s: bad value type %#x", what, b)
	}
	return t, nil
}

func (c *cursor) limits(what string) (Limits, error) {
	off := c.off()
	flag, err := c.byte(what + " limits flag")
	if err != nil {
		return Limits{}, err
	}
	var l Limits
	switch flag {
	case 0:
	case 1:
		l.HasMax = true
	default:
		return l, c.r.unsupported(off, "%s: limits flag %#x (shared or 64-bit memories)", what, flag)
	}
	if l.Min, err = c.u32(what + " minimum"); err != nil {
		return l, err
	}
	if l.HasMax {
		if l.Max, err = c.u32(what + " maximum"); err != nil {
			return l, err
		}
	}
	return l, nil
}

// order ranks the known sections as the specification orders them.
var order = map[byte]int{
	secType: 1, secImport: 2, secFunction: 3, secTable: 4, secMemory: 5, secTag: 6,
	secGlobal: 7, secExport: 8, secStart: 9, secElem: 10, secDataCount: 11, secCode: 12, secData: 13,
}

func (r *reader) read() error {
	d := r.data
	if len(d) < 8 {
		return r.errorf(0, "file of %d bytes is too short for a Wasm header", len(d))
	}
	if string(d[:4]) != Magic {
		return r.errorf(0, "bad magic % x (want 00 61 73 6d)", d[:4])
	}
	if v := uint32(d[4]) | uint32(d[5])<<8 | uint32(d[6])<<16 | uint32(d[7])<<24; v != Version {
		return r.errorf(4, "version %d (want 1)", v)
	}
	c := r.cursor(0, d)
	c.pos = 8
	last := 0
	for !c.done() {
		secOff := c.off()
		id, _ := c.byte("section id")
		size, err := c.u32("section size")
		if err != nil {
			return err
		}
		payload, err := c.bytes(int(size), fmt.Sprintf("section %d payload", id))
		if err != nil {
			return err
		}
		payOff := c.off() - int(size)
		index := len(r.sections)
		ref := sectionRef{id: id, custom: -1}
		if id != secCustom {
			rank, ok := order[id]
			if !ok {
				return r.errorf(secOff, "unknown section id %d", id)
			}
			if rank <= last {
				return r.errorf(secOff, "section id %d out of order or repeated", id)
			}
			last = rank
			if err := r.section(id, payOff, payload); err != nil {
				return err
			}
		} else {
			pc := r.cursor(payOff, payload)
			name, err := pc.name("custom section name")
			if err != nil {
				return err
			}
			body := payload[pc.pos:]
			bodyOff := pc.off()
			switch {
			case name == "linking":
				if r.linking != nil {
					return r.errorf(secOff, "second linking section")
				}
				r.linking = &rawSection{index: index, off: bodyOff, data: body}
			case strings.HasPrefix(name, "reloc."):
				r.relocs = append(r.relocs, rawSection{index: index, off: bodyOff, data: body})
			default:
				ref.custom = len(r.o.Customs)
				r.at[loc{Kind: locCustom, I: ref.custom}] = secOff
				r.o.Customs = append(r.o.Customs, Custom{Name: name, Data: body, Early: r.linking == nil})
			}
		}
		r.sections = append(r.sections, ref)
	}
	if r.nFuncDecls != len(r.o.Funcs) {
		return r.errorf(len(d), "function section declares %d functions but the code section has %d bodies", r.nFuncDecls, len(r.o.Funcs))
	}
	if r.haveDataCount && r.dataCount != len(r.o.Segments) {
		return r.errorf(len(d), "data count section says %d segments, the data section has %d", r.dataCount, len(r.o.Segments))
	}
	if r.module {
		if r.linking != nil {
			return r.errorf(r.linking.off, "a linking section: a relocatable object, not a linked module")
		}
		return nil
	}
	if r.linking == nil {
		return r.errorf(len(d), "no linking section: not a relocatable object")
	}
	if err := r.readLinking(); err != nil {
		return err
	}
	seen := make(map[int]bool)
	for _, rs := range r.relocs {
		if err := r.readRelocs(rs, seen); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) section(id byte, off int, payload []byte) error {
	o := r.o
	c := r.cursor(off, payload)
	switch id {
	case secType:
		n, err := c.count("type", 3)
		if err != nil {
			return err
		}
		o.Types = make([]FuncType, 0, n)
		for i := 0; i < n; i++ {
			r.at[loc{Kind: locType, I: i}] = c.off()
			form, err := c.byte("type form")
			if err != nil {
				return err
			}
			if form != 0x60 {
				return r.errorf(c.off()-1, "type %d: form %#x (want 0x60)", i, form)
			}
			var t FuncType
			for _, list := range []*[]ValType{&t.Params, &t.Results} {
				m, err := c.count("type parameter", 1)
				if err != nil {
					return err
				}
				if m > MaxParams {
					return c.errorf("type %d: %d values, more than %d", i, m, MaxParams)
				}
				*list = make([]ValType, 0, m)
				for j := 0; j < m; j++ {
					v, err := c.valType("type value")
					if err != nil {
						return err
					}
					*list = append(*list, v)
				}
			}
			o.Types = append(o.Types, t)
		}
	case secImport:
		n, err := c.count("import", 4)
		if err != nil {
			return err
		}
		o.Imports = make([]Import, 0, n)
		for i := 0; i < n; i++ {
			r.at[loc{Kind: locImport, I: i}] = c.off()
			var im Import
			if im.Module, err = c.name("import module"); err != nil {
				return err
			}
			if im.Name, err = c.name("import name"); err != nil {
				return err
			}
			kOff := c.off()
			k, err := c.byte("import kind")
			if err != nil {
				return err
			}
			im.Kind = ExternKind(k)
			switch im.Kind {
			case ExternFunc:
				im.Type, err = c.u32("import type index")
			case ExternTable:
				if im.Table.Elem, err = c.valType("table element type"); err == nil {
					im.Table.Limits, err = c.limits("table")
				}
			case ExternMemory:
				im.Memory, err = c.limits("memory")
			case ExternGlobal:
				if im.Global.Type, err = c.valType("global type"); err == nil {
					var m byte
					m, err = c.byte("global mutability")
					if err == nil && m > 1 {
						err = c.errorf("global mutability %d", m)
					}
					im.Global.Mutable = m == 1
				}
			case 4:
				return r.unsupported(kOff, "import %d (%s.%s): tag import (exception handling)", i, im.Module, im.Name)
			default:
				return r.errorf(kOff, "import %d (%s.%s): bad kind %d", i, im.Module, im.Name, k)
			}
			if err != nil {
				return err
			}
			o.Imports = append(o.Imports, im)
		}
	case secFunction:
		n, err := c.count("function", 1)
		if err != nil {
			return err
		}
		r.funcTypes = make([]uint32, n)
		for i := 0; i < n; i++ {
			if r.funcTypes[i], err = c.u32("function type index"); err != nil {
				return err
			}
		}
		r.nFuncDecls = n
	case secTable:
		n, err := c.count("table", 2)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			r.at[loc{Kind: locTable, I: i}] = c.off()
			var t TableType
			if t.Elem, err = c.valType("table element type"); err != nil {
				return err
			}
			if t.Limits, err = c.limits("table"); err != nil {
				return err
			}
			o.Tables = append(o.Tables, t)
		}
	case secMemory:
		n, err := c.count("memory", 2)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			r.at[loc{Kind: locMemory, I: i}] = c.off()
			l, err := c.limits("memory")
			if err != nil {
				return err
			}
			o.Memories = append(o.Memories, l)
		}
	case secGlobal:
		n, err := c.count("global", 4)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			r.at[loc{Kind: locGlobal, I: i}] = c.off()
			var g Global
			if g.Type.Type, err = c.valType("global type"); err != nil {
				return err
			}
			m, err := c.byte("global mutability")
			if err != nil {
				return err
			}
			if m > 1 {
				return c.errorf("global %d: mutability %d", i, m)
			}
			g.Type.Mutable = m == 1
			if g.Init, err = c.constExpr("global initializer"); err != nil {
				return err
			}
			o.Globals = append(o.Globals, g)
		}
	case secExport:
		n, err := c.count("export", 3)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			r.at[loc{Kind: locExport, I: i}] = c.off()
			var e Export
			if e.Name, err = c.name("export name"); err != nil {
				return err
			}
			k, err := c.byte("export kind")
			if err != nil {
				return err
			}
			if k > 3 {
				return r.errorf(c.off()-1, "export %q: bad kind %d", e.Name, k)
			}
			e.Kind = ExternKind(k)
			if e.Index, err = c.u32("export index"); err != nil {
				return err
			}
			o.Exports = append(o.Exports, e)
		}
	case secStart:
		return r.unsupported(off, "start section in a relocatable object")
	case secTag:
		return r.unsupported(off, "tag section (exception handling)")
	case secElem:
		n, err := c.count("element segment", 4)
		if err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			r.at[loc{Kind: locElem, I: i}] = c.off()
			flagOff := c.off()
			flags, err := c.u32("element segment flags")
			if err != nil {
				return err
			}
			if flags != 0 {
				return r.unsupported(flagOff, "element segment %d: flags %#x (only active segments of table 0 are supported)", i, flags)
			}
			offset, err := c.offsetExpr("element segment offset")
			if err != nil {
				return err
			}
			m, err := c.count("element", 1)
			if err != nil {
				return err
			}
			e := Elem{Offset: offset, Funcs: make([]uint32, 0, m)}
			for j := 0; j < m; j++ {
				f, err := c.u32("element function index")
				if err != nil {
					return err
				}
				e.Funcs = append(e.Funcs, f)
			}
			o.Elems = append(o.Elems, e)
		}
	case secDataCount:
		n, err := c.u32("data count")
		if err != nil {
			return err
		}
		r.haveDataCount, r.dataCount = true, int(n)
		o.DataCount = true
	case secCode:
		n, err := c.count("function body", 2)
		if err != nil {
			return err
		}
		if n != r.nFuncDecls {
			return r.errorf(off, "code section has %d bodies, the function section declares %d", n, r.nFuncDecls)
		}
		o.Funcs = make([]Function, 0, n)
		for i := 0; i < n; i++ {
			r.at[loc{Kind: locFunc, I: i}] = c.off()
			size, err := c.u32("function body size")
			if err != nil {
				return err
			}
			bodyOff := c.off()
			body, err := c.bytes(int(size), "function body")
			if err != nil {
				return err
			}
			bc := r.cursor(bodyOff, body)
			groups, err := bc.count("local group", 2)
			if err != nil {
				return err
			}
			f := Function{Type: r.funcTypes[i], Locals: make([]LocalGroup, 0, groups)}
			total := uint64(0)
			for j := 0; j < groups; j++ {
				cnt, err := bc.u32("local count")
				if err != nil {
					return err
				}
				t, err := bc.valType("local type")
				if err != nil {
					return err
				}
				total += uint64(cnt)
				if total > MaxLocals {
					return bc.errorf("function %d: more than %d locals", i, MaxLocals)
				}
				f.Locals = append(f.Locals, LocalGroup{Count: cnt, Type: t})
			}
			f.Code = body[bc.pos:]
			if len(f.Code) == 0 || f.Code[len(f.Code)-1] != opEnd {
				return r.errorf(bodyOff+len(body)-1, "function %d: body does not end with the end opcode", i)
			}
			start := bodyOff + bc.pos - off
			r.codeStart = append(r.codeStart, start)
			r.codeEnd = append(r.codeEnd, start+len(f.Code))
			o.Funcs = append(o.Funcs, f)
		}
	case secData:
		n, err := c.count("data segment", 3)
		if err != nil {
			return err
		}
		o.Segments = make([]Segment, 0, n)
		for i := 0; i < n; i++ {
			r.at[loc{Kind: locSegment, I: i}] = c.off()
			flagOff := c.off()
			flags, err := c.u32("data segment flags")
			if err != nil {
				return err
			}
			var s Segment
			switch flags {
			case 0, 2:
				if flags == 2 {
					mem, err := c.u32("data segment memory index")
					if err != nil {
						return err
					}
					if mem != 0 {
						return r.unsupported(flagOff, "data segment %d: memory %d (multi-memory)", i, mem)
					}
				}
				if s.Offset, err = c.offsetExpr("data segment offset"); err != nil {
					return err
				}
			case 1:
				s.Passive = true
			default:
				return r.errorf(flagOff, "data segment %d: bad flags %#x", i, flags)
			}
			size, err := c.u32("data segment size")
			if err != nil {
				return err
			}
			start := c.off() - off
			if s.Data, err = c.bytes(int(size), "data segment contents"); err != nil {
				return err
			}
			r.segStart = append(r.segStart, start)
			r.segEnd = append(r.segEnd, start+int(size))
			o.Segments = append(o.Segments, s)
		}
	}
	return c.end(fmt.Sprintf("section %d", id))
}

// constExpr reads a constant expression and its end, returning the
// instruction without the end.
func (c *cursor) constExpr(what string) ([]byte, error) {
	n, err := constExprLen(c.b[c.pos:])
	if err != nil {
		return nil, c.errorf("%s: %v", what, err)
	}
	b := c.b[c.pos : c.pos+n]
	c.pos += n
	e, err := c.byte(what + " end")
	if err != nil {
		return nil, err
	}
	if e != opEnd {
		return nil, c.r.unsupported(c.off()-1, "%s: more than one instruction (extended constant expressions)", what)
	}
	return b, nil
}

// offsetExpr reads an i32.const offset expression.
func (c *cursor) offsetExpr(what string) (uint32, error) {
	off := c.off()
	b, err := c.constExpr(what)
	if err != nil {
		return 0, err
	}
	if b[0] != opI32Const {
		return 0, c.r.unsupported(off, "%s: opcode %#x, only i32.const offsets are supported", what, b[0])
	}
	v, _, _ := readSLEB(b[1:], 32)
	return uint32(int32(v)), nil
}

func (r *reader) readLinking() error {
	o := r.o
	c := r.cursor(r.linking.off, r.linking.data)
	ver, err := c.u32("linking version")
	if err != nil {
		return err
	}
	if ver != LinkingVersion {
		return r.unsupported(r.linking.off, "linking section version %d (want %d)", ver, LinkingVersion)
	}
	seen := make(map[byte]bool)
	for !c.done() {
		subOff := c.off()
		typ, _ := c.byte("linking subsection type")
		size, err := c.u32("linking subsection size")
		if err != nil {
			return err
		}
		payload, err := c.bytes(int(size), "linking subsection")
		if err != nil {
			return err
		}
		if seen[typ] {
			return r.errorf(subOff, "linking subsection %d repeated", typ)
		}
		seen[typ] = true
		sc := r.cursor(c.off()-int(size), payload)
		switch typ {
		case linkSymbolTable:
			if err := r.readSymbols(sc); err != nil {
				return err
			}
		case linkSegmentInfo:
			n, err := sc.count("segment info", 3)
			if err != nil {
				return err
			}
			if n != len(o.Segments) {
				return r.errorf(subOff, "segment info lists %d segments, the data section has %d", n, len(o.Segments))
			}
			for i := 0; i < n; i++ {
				s := &o.Segments[i]
				if s.Name, err = sc.name("segment name"); err != nil {
					return err
				}
				if s.Align, err = sc.u32("segment alignment"); err != nil {
					return err
				}
				if s.Flags, err = sc.u32("segment flags"); err != nil {
					return err
				}
			}
		case linkInitFuncs:
			n, err := sc.count("init function", 2)
			if err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				r.at[loc{Kind: locInitFunc, I: i}] = sc.off()
				var f InitFunc
				if f.Priority, err = sc.u32("init function priority"); err != nil {
					return err
				}
				if f.Symbol, err = sc.u32("init function symbol"); err != nil {
					return err
				}
				o.InitFuncs = append(o.InitFuncs, f)
			}
		case linkComdatInfo:
			return r.unsupported(subOff, "comdats (WASM_COMDAT_INFO)")
		default:
			return r.errorf(subOff, "unknown linking subsection type %d", typ)
		}
		if err := sc.end(fmt.Sprintf("linking subsection %d", typ)); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) readSymbols(c *cursor) error {
	o := r.o
	n, err := c.count("symbol", 2)
	if err != nil {
		return err
	}
	o.Symbols = make([]Symbol, 0, n)
	imports := o.importIndex()
	for i := 0; i < n; i++ {
		symOff := c.off()
		r.at[loc{Kind: locSymbol, I: i}] = symOff
		k, _ := c.byte("symbol kind")
		s := Symbol{Kind: SymKind(k)}
		if s.Flags, err = c.u32("symbol flags"); err != nil {
			return err
		}
		switch s.Kind {
		case SymFunction, SymGlobal, SymTable:
			if s.Index, err = c.u32("symbol index"); err != nil {
				return err
			}
			if !s.Undefined() || s.Flags&SymExplicitName != 0 {
				if s.Name, err = c.name("symbol name"); err != nil {
					return err
				}
			} else {
				kind := map[SymKind]ExternKind{SymFunction: ExternFunc, SymGlobal: ExternGlobal, SymTable: ExternTable}[s.Kind]
				if im := imports.of(o, kind, s.Index); im != nil {
					s.Name = im.Name
				}
			}
		case SymData:
			if s.Name, err = c.name("symbol name"); err != nil {
				return err
			}
			if !s.Undefined() {
				if s.Segment, err = c.u32("data symbol segment"); err != nil {
					return err
				}
				if s.Offset, err = c.u32("data symbol offset"); err != nil {
					return err
				}
				if s.Size, err = c.u32("data symbol size"); err != nil {
					return err
				}
			}
		case SymSection:
			idxOff := c.off()
			idx, err := c.u32("section symbol index")
			if err != nil {
				return err
			}
			if int(idx) >= len(r.sections) {
				return r.errorf(idxOff, "symbol %d: section index %d out of range (%d sections)", i, idx, len(r.sections))
			}
			if r.sections[idx].custom < 0 {
				return r.unsupported(idxOff, "symbol %d: section symbol of section %d (id %d), only custom sections are supported", i, idx, r.sections[idx].id)
			}
			s.Index = uint32(r.sections[idx].custom)
		case SymTag:
			return r.unsupported(symOff, "symbol %d: tag symbol (exception handling)", i)
		default:
			return r.errorf(symOff, "symbol %d: bad kind %d", i, k)
		}
		o.Symbols = append(o.Symbols, s)
	}
	return nil
}

// readRelocs decodes one reloc section and hands its entries to the
// functions, segments or custom section they patch.
func (r *reader) readRelocs(rs rawSection, seen map[int]bool) error {
	o := r.o
	c := r.cursor(rs.off, rs.data)
	tOff := c.off()
	target, err := c.u32("relocation target section")
	if err != nil {
		return err
	}
	if int(target) >= rs.index {
		return r.errorf(tOff, "relocation section targets section %d, which does not precede it (it is section %d)", target, rs.index)
	}
	if seen[int(target)] {
		return r.errorf(tOff, "second relocation section for section %d", target)
	}
	seen[int(target)] = true
	ref := r.sections[target]
	n, err := c.count("relocation", 3)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		entOff := c.off()
		t, err := c.u32("relocation type")
		if err != nil {
			return err
		}
		if t >= uint32(len(relocNames)) {
			return r.errorf(entOff, "unknown relocation type %d", t)
		}
		rel := Reloc{Type: RelocType(t)}
		if rel.Offset, err = c.u32("relocation offset"); err != nil {
			return err
		}
		if rel.Index, err = c.u32("relocation index"); err != nil {
			return err
		}
		if rel.Type.HasAddend() {
			if rel.Addend, err = c.s32("relocation addend"); err != nil {
				return err
			}
		}
		off := int(rel.Offset)
		switch {
		case ref.id == secCode:
			i := sort.Search(len(r.codeEnd), func(i int) bool { return r.codeEnd[i] > off })
			if i == len(r.codeEnd) || off < r.codeStart[i] {
				return r.errorf(entOff, "%s at code offset %#x is not inside a function's code", rel.Type, off)
			}
			rel.Offset = uint32(off - r.codeStart[i])
			f := &o.Funcs[i]
			r.at[loc{Kind: locFuncReloc, I: i, J: len(f.Relocs)}] = entOff
			f.Relocs = append(f.Relocs, rel)
		case ref.id == secData:
			i := sort.Search(len(r.segEnd), func(i int) bool { return r.segEnd[i] > off })
			if i == len(r.segEnd) || off < r.segStart[i] {
				return r.errorf(entOff, "%s at data offset %#x is not inside a segment's contents", rel.Type, off)
			}
			rel.Offset = uint32(off - r.segStart[i])
			s := &o.Segments[i]
			r.at[loc{Kind: locSegmentReloc, I: i, J: len(s.Relocs)}] = entOff
			s.Relocs = append(s.Relocs, rel)
		case ref.custom >= 0:
			cs := &o.Customs[ref.custom]
			r.at[loc{Kind: locCustomReloc, I: ref.custom, J: len(cs.Relocs)}] = entOff
			cs.Relocs = append(cs.Relocs, rel)
		default:
			return r.unsupported(tOff, "relocations for section %d (id %d)", target, ref.id)
		}
	}
	return c.end("relocation section")
}
