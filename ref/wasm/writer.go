package wasm

import (
	"fmt"
)

// Section ids.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElem      = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// Subsections of the linking section.
const (
	linkSegmentInfo = 5
	linkInitFuncs   = 6
	linkComdatInfo  = 7
	linkSymbolTable = 8
)

// WriteObject serializes o as a Wasm relocatable object, laid out as
// LLVM's WasmObjectWriter lays out its objects: the known sections in the
// order the specification fixes (type, import, function, table, memory,
// global, export, elem, datacount, code, data), then the early custom
// sections, the "linking" section (version 2: symbol table, segment info,
// init functions), "reloc.CODE", "reloc.DATA" and the relocation sections
// of early custom sections, and last the other custom sections. The object
// is validated first (Validate); relocated fields are written as they are in
// o (the code generator writes LLVM's placeholders into them).
func WriteObject(o *Object) ([]byte, error) { return WriteObjectWith(o, CheckOptions{}) }

// WriteObjectWith is WriteObject with relaxed checks, for tests that must
// write a defective object.
func WriteObjectWith(o *Object, opts CheckOptions) ([]byte, error) {
	if err := o.ValidateWith(opts); err != nil {
		return nil, err
	}
	w := &writer{o: o}
	return w.write()
}

type writer struct {
	o   *Object
	out []byte
	n   int // sections written so far
	// customIndex is the file section index of each custom section.
	customIndex []int
}

func appendName(b []byte, s string) []byte {
	b = AppendULEB(b, uint64(len(s)))
	return append(b, s...)
}

func appendLimits(b []byte, l Limits) []byte {
	if l.HasMax {
		b = append(b, 1)
		b = AppendULEB(b, uint64(l.Min))
		return AppendULEB(b, uint64(l.Max))
	}
	b = append(b, 0)
	return AppendULEB(b, uint64(l.Min))
}

// section appends a section and returns the offset of its payload in the
// file.
func (w *writer) section(id byte, payload []byte) int {
	w.out = append(w.out, id)
	// LLVM reserves 5 bytes for every section size and patches them.
	w.out = AppendPaddedULEB(w.out, uint32(len(payload)))
	off := len(w.out)
	w.out = append(w.out, payload...)
	w.n++
	return off
}

func (w *writer) custom(name string, payload []byte) {
	b := appendName(nil, name)
	w.section(secCustom, append(b, payload...))
}

func (w *writer) write() ([]byte, error) {
	o := w.o
	w.out = append([]byte(Magic), Version, 0, 0, 0)

	// Section indexes, for reloc section targets and section symbols.
	idx := 0
	count := func(present bool) int {
		if present {
			idx++
			return idx - 1
		}
		return -1
	}
	count(len(o.Types) > 0)
	count(len(o.Imports) > 0)
	count(len(o.Funcs) > 0)
	count(len(o.Tables) > 0)
	count(len(o.Memories) > 0)
	count(len(o.Globals) > 0)
	count(len(o.Exports) > 0)
	count(len(o.Elems) > 0)
	count(o.DataCount)
	codeIndex := count(len(o.Funcs) > 0)
	dataIndex := count(len(o.Segments) > 0)
	w.customIndex = make([]int, len(o.Customs))
	for i, c := range o.Customs {
		if c.Early {
			w.customIndex[i] = count(true)
		}
	}
	hasCodeRelocs, hasDataRelocs := false, false
	for _, f := range o.Funcs {
		hasCodeRelocs = hasCodeRelocs || len(f.Relocs) > 0
	}
	for _, s := range o.Segments {
		hasDataRelocs = hasDataRelocs || len(s.Relocs) > 0
	}
	count(true) // linking
	count(hasCodeRelocs)
	count(hasDataRelocs)
	for i, c := range o.Customs {
		if c.Early && len(c.Relocs) > 0 {
			count(true)
		}
		_ = i
	}
	for i, c := range o.Customs {
		if !c.Early {
			w.customIndex[i] = count(true)
			count(len(c.Relocs) > 0)
		}
	}

	if len(o.Types) > 0 {
		b := AppendULEB(nil, uint64(len(o.Types)))
		for _, t := range o.Types {
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
		w.section(secType, b)
	}
	if len(o.Imports) > 0 {
		b := AppendULEB(nil, uint64(len(o.Imports)))
		for _, im := range o.Imports {
			b = appendName(b, im.Module)
			b = appendName(b, im.Name)
			b = append(b, byte(im.Kind))
			switch im.Kind {
			case ExternFunc:
				b = AppendULEB(b, uint64(im.Type))
			case ExternTable:
				b = append(b, byte(im.Table.Elem))
				b = appendLimits(b, im.Table.Limits)
			case ExternMemory:
				b = appendLimits(b, im.Memory)
			case ExternGlobal:
				b = append(b, byte(im.Global.Type), b2b(im.Global.Mutable))
			}
		}
		w.section(secImport, b)
	}
	if len(o.Funcs) > 0 {
		b := AppendULEB(nil, uint64(len(o.Funcs)))
		for _, f := range o.Funcs {
			b = AppendULEB(b, uint64(f.Type))
		}
		w.section(secFunction, b)
	}
	if len(o.Tables) > 0 {
		b := AppendULEB(nil, uint64(len(o.Tables)))
		for _, t := range o.Tables {
			b = append(b, byte(t.Elem))
			b = appendLimits(b, t.Limits)
		}
		w.section(secTable, b)
	}
	if len(o.Memories) > 0 {
		b := AppendULEB(nil, uint64(len(o.Memories)))
		for _, m := range o.Memories {
			b = appendLimits(b, m)
		}
		w.section(secMemory, b)
	}
	if len(o.Globals) > 0 {
		b := AppendULEB(nil, uint64(len(o.Globals)))
		for _, g := range o.Globals {
			b = append(b, byte(g.Type.Type), b2b(g.Type.Mutable))
			b = append(b, g.Init...)
			b = append(b, opEnd)
		}
		w.section(secGlobal, b)
	}
	if len(o.Exports) > 0 {
		b := AppendULEB(nil, uint64(len(o.Exports)))
		for _, e := range o.Exports {
			b = appendName(b, e.Name)
			b = append(b, byte(e.Kind))
			b = AppendULEB(b, uint64(e.Index))
		}
		w.section(secExport, b)
	}
	if len(o.Elems) > 0 {
		b := AppendULEB(nil, uint64(len(o.Elems)))
		for _, e := range o.Elems {
			b = append(b, 0) // active, table 0, funcref
			b = append(b, opI32Const)
			b = AppendSLEB(b, int64(int32(e.Offset)))
			b = append(b, opEnd)
			b = AppendULEB(b, uint64(len(e.Funcs)))
			for _, f := range e.Funcs {
				b = AppendULEB(b, uint64(f))
			}
		}
		w.section(secElem, b)
	}
	if o.DataCount {
		w.section(secDataCount, AppendULEB(nil, uint64(len(o.Segments))))
	}

	// Code: remember where each function's code starts in the payload.
	var codeRelocs, dataRelocs []byte
	nCodeRelocs, nDataRelocs := 0, 0
	if len(o.Funcs) > 0 {
		b := AppendULEB(nil, uint64(len(o.Funcs)))
		for _, f := range o.Funcs {
			var locals []byte
			locals = AppendULEB(locals, uint64(len(f.Locals)))
			for _, l := range f.Locals {
				locals = AppendULEB(locals, uint64(l.Count))
				locals = append(locals, byte(l.Type))
			}
			b = AppendULEB(b, uint64(len(locals)+len(f.Code)))
			b = append(b, locals...)
			base := len(b)
			b = append(b, f.Code...)
			for _, r := range f.Relocs {
				codeRelocs = appendReloc(codeRelocs, r, base)
				nCodeRelocs++
			}
		}
		w.section(secCode, b)
	}
	if len(o.Segments) > 0 {
		b := AppendULEB(nil, uint64(len(o.Segments)))
		for _, s := range o.Segments {
			if s.Passive {
				b = append(b, 1)
			} else {
				b = append(b, 0, opI32Const)
				b = AppendSLEB(b, int64(int32(s.Offset)))
				b = append(b, opEnd)
			}
			b = AppendULEB(b, uint64(len(s.Data)))
			base := len(b)
			b = append(b, s.Data...)
			for _, r := range s.Relocs {
				dataRelocs = appendReloc(dataRelocs, r, base)
				nDataRelocs++
			}
		}
		w.section(secData, b)
	}
	for _, c := range o.Customs {
		if c.Early {
			w.custom(c.Name, c.Data)
		}
	}
	w.custom("linking", w.linking())
	if hasCodeRelocs {
		w.custom("reloc.CODE", relocSection(codeIndex, nCodeRelocs, codeRelocs))
	}
	if hasDataRelocs {
		w.custom("reloc.DATA", relocSection(dataIndex, nDataRelocs, dataRelocs))
	}
	customRelocs := func(i int) {
		c := o.Customs[i]
		var b []byte
		for _, r := range c.Relocs {
			b = appendReloc(b, r, 0)
		}
		w.custom("reloc."+c.Name, relocSection(w.customIndex[i], len(c.Relocs), b))
	}
	for i, c := range o.Customs {
		if c.Early && len(c.Relocs) > 0 {
			customRelocs(i)
		}
	}
	for i, c := range o.Customs {
		if !c.Early {
			w.custom(c.Name, c.Data)
			if len(c.Relocs) > 0 {
				customRelocs(i)
			}
		}
	}
	if w.n != idx {
		return nil, fmt.Errorf("%s: wasm writer: wrote %d sections, planned %d", o.Name, w.n, idx)
	}
	return w.out, nil
}

func b2b(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func appendReloc(b []byte, r Reloc, base int) []byte {
	b = AppendULEB(b, uint64(r.Type))
	b = AppendULEB(b, uint64(base)+uint64(r.Offset))
	b = AppendULEB(b, uint64(r.Index))
	if r.Type.HasAddend() {
		b = AppendSLEB(b, int64(r.Addend))
	}
	return b
}

func relocSection(target, n int, entries []byte) []byte {
	b := AppendULEB(nil, uint64(target))
	b = AppendULEB(b, uint64(n))
	return append(b, entries...)
}

func subsection(b []byte, typ byte, payload []byte) []byte {
	b = append(b, typ)
	b = AppendPaddedULEB(b, uint32(len(payload))) // as LLVM does
	return append(b, payload...)
}

// linking returns the payload of the linking section.
func (w *writer) linking() []byte {
	o := w.o
	b := AppendULEB(nil, LinkingVersion)
	if len(o.Symbols) > 0 {
		p := AppendULEB(nil, uint64(len(o.Symbols)))
		for _, s := range o.Symbols {
			p = append(p, byte(s.Kind))
			p = AppendULEB(p, uint64(s.Flags))
			switch s.Kind {
			case SymFunction, SymGlobal, SymTable, SymTag:
				p = AppendULEB(p, uint64(s.Index))
				if !s.Undefined() || s.Flags&SymExplicitName != 0 {
					p = appendName(p, s.Name)
				}
			case SymData:
				p = appendName(p, s.Name)
				if !s.Undefined() {
					p = AppendULEB(p, uint64(s.Segment))
					p = AppendULEB(p, uint64(s.Offset))
					p = AppendULEB(p, uint64(s.Size))
				}
			case SymSection:
				p = AppendULEB(p, uint64(w.customIndex[s.Index]))
			}
		}
		b = subsection(b, linkSymbolTable, p)
	}
	if len(o.Segments) > 0 {
		p := AppendULEB(nil, uint64(len(o.Segments)))
		for _, s := range o.Segments {
			p = appendName(p, s.Name)
			p = AppendULEB(p, uint64(s.Align))
			p = AppendULEB(p, uint64(s.Flags))
		}
		b = subsection(b, linkSegmentInfo, p)
	}
	if len(o.InitFuncs) > 0 {
		p := AppendULEB(nil, uint64(len(o.InitFuncs)))
		for _, f := range o.InitFuncs {
			p = AppendULEB(p, uint64(f.Priority))
			p = AppendULEB(p, uint64(f.Symbol))
		}
		b = subsection(b, linkInitFuncs, p)
	}
	return b
}
