// Package codegen lowers a .lir program to x86_64 machine code in the
// format-neutral object model: one atom per function, global, const, entry
// stub and error table, with every reference to another symbol left as a
// relocation.
//
// The code is deliberately naive and obviously correct: every expression is
// evaluated into RAX, intermediate values live on the machine stack, every
// local and parameter has its own slot in the frame, every branch is rel32.
// Functions use the System V calling convention (arguments in RDI, RSI,
// RDX, RCX; result in RAX). References are lowered as a real compiler does:
//
//   - a direct call is `call rel32` with a Branch32 relocation;
//   - the address or value of a global, and the address of a global function,
//     is loaded from the symbol's GOT slot (`mov r64, [rip + GOT]`,
//     GOTLoad32); the address of a local function is `lea r64, [rip + f]`
//     (PCRel32);
//   - a data pointer is an Abs64 relocation in the global's bytes;
//   - the error-name table is a read-only atom (ErrTabSymbol) reached
//     through its GOT slot; code derives the number of errors from the table
//     itself, so the table can be regenerated without recompiling its users.
package codegen

import (
	"fmt"
	"sort"

	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Reserved symbol names. Program identifiers cannot start with an underscore,
// so these never collide with a program's names.
const (
	// EntrySymbol is the entry stub: it calls main and hands its value to
	// the outside world.
	EntrySymbol = "_start"
	// ErrTabSymbol is the error-name table.
	ErrTabSymbol = "_lc_errtab"
	// MainSymbol is the program's main function.
	MainSymbol = "main"
)

// DefaultFuncAlign is the alignment of a function without an align clause,
// as clang uses for x86_64.
const DefaultFuncAlign = 16

// maxFrameSlots bounds a function's frame; a function that needs more is an
// unsupported construct rather than a silently huge stack frame.
const maxFrameSlots = 1 << 16

// Reloc is a relocation that names its target symbol.
type Reloc struct {
	Offset uint64
	Kind   obj.RelocKind
	Sym    string
	Addend int64
}

// Atom is one unit of code or data: what becomes one section of an object
// file and what an incremental linker places, moves and patches.
type Atom struct {
	Name   string
	Kind   obj.SectionKind
	Align  uint64
	Data   []byte // nil for BSS
	Size   uint64
	Relocs []Reloc // sorted by Offset
	Local  bool    // a local symbol (a `local` function)
}

// IsFunc reports whether the atom is code.
func (a *Atom) IsFunc() bool { return a.Kind == obj.Text }

// SectionName returns the ELF-style section name of the atom (".text.f").
func (a *Atom) SectionName() string {
	return "." + a.Kind.String() + "." + a.Name
}

// Program is a compiled program: its atoms in a deterministic order (entry
// stub, functions and globals in declaration order, error table).
type Program struct {
	Format obj.Format
	Atoms  []*Atom
}

// Atom returns the atom named name, or nil.
func (p *Program) Atom(name string) *Atom {
	for _, a := range p.Atoms {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Options change how code is generated.
type Options struct {
	// CallsViaGOT makes every call, the entry stub's included, an indirect
	// `call qword ptr [rip + GOT(f)]` (GOTPCRel32, which linkers must not
	// relax): the incremental linker's `got` policy, where moving a
	// function rewrites one GOT slot and no caller.
	CallsViaGOT bool
	// SeedErrTabBug reproduces the defect of the Zig commit in seed 000
	// (tests only): the table stores one offset per name (their starts)
	// and the lowering reads the end of error k from offset k, so the last
	// name's end is read from the first bytes of the name blob.
	SeedErrTabBug bool
}

// Compile lowers m for the given format. The module must have passed the
// checker.
func Compile(m *ir.Module, format obj.Format) (*Program, error) {
	return CompileWith(m, format, Options{})
}

// CompileWith is Compile with options.
func CompileWith(m *ir.Module, format obj.Format, opts Options) (*Program, error) {
	if format == obj.Wasm {
		return nil, fmt.Errorf("codegen: format wasm is produced by ref/wasmgen, not the x86_64 code generator")
	}
	if m.Func(MainSymbol) == nil {
		return nil, fmt.Errorf("codegen: program has no main function")
	}
	env := NewEnv(m)
	env.CallsViaGOT = opts.CallsViaGOT
	env.seedErrTabBug = opts.SeedErrTabBug
	p := &Program{Format: format}
	entry, err := entryStub(format, opts)
	if err != nil {
		return nil, err
	}
	p.Atoms = append(p.Atoms, entry)
	for _, f := range m.Funcs {
		a, err := CompileFunc(f, env)
		if err != nil {
			return nil, err
		}
		p.Atoms = append(p.Atoms, a)
	}
	for _, g := range m.Globals {
		p.Atoms = append(p.Atoms, CompileGlobal(g))
	}
	if NeedsErrorTable(m) {
		t := ErrorTable(m.Errors)
		if opts.SeedErrTabBug {
			t = seedBuggyErrorTable(m.Errors)
		}
		p.Atoms = append(p.Atoms, t)
	}
	return p, nil
}

// NeedsErrorTable reports whether the program gets an error table: when it
// declares errors or uses errlen/errbyte.
func NeedsErrorTable(m *ir.Module) bool {
	if len(m.Errors) > 0 {
		return true
	}
	for _, f := range m.Funcs {
		if usesErrors(f.Body) {
			return true
		}
	}
	return false
}

func usesErrors(body []ir.Stmt) bool {
	found := false
	walkStmts(body, func(e ir.Expr) {
		switch e.(type) {
		case *ir.ErrLenExpr, *ir.ErrByteExpr:
			found = true
		}
	})
	return found
}

// CompileGlobal lowers a global or const to a data atom: zero-initialized
// globals go to BSS, other globals to data, consts to read-only data; an
// address initializer is an Abs64 relocation.
func CompileGlobal(g *ir.Global) *Atom {
	a := &Atom{Name: g.Name, Align: 8, Size: 8}
	switch {
	case g.Const:
		a.Kind = obj.ROData
	case g.Init.Addr == "" && g.Init.Value == 0:
		a.Kind = obj.BSS
		return a
	default:
		a.Kind = obj.Data
	}
	a.Data = make([]byte, 8)
	if g.Init.Addr != "" {
		a.Relocs = []Reloc{{Offset: 0, Kind: obj.Abs64, Sym: g.Init.Addr}}
	} else {
		putU64(a.Data, g.Init.Value)
	}
	return a
}

// ErrorTable builds the error-name table: N+1 little-endian u32 offsets from
// the table's start, then the NUL-terminated names. Error k (1-based) spans
// [off[k-1], off[k]-1). off[0] is 4(N+1), so N is known from the table.
func ErrorTable(names []string) *Atom {
	n := len(names)
	size := 4 * (n + 1)
	for _, s := range names {
		size += len(s) + 1
	}
	data := make([]byte, 4*(n+1), size)
	off := 4 * (n + 1)
	putU32(data[0:], uint32(off))
	for i, s := range names {
		off += len(s) + 1
		putU32(data[4*(i+1):], uint32(off))
	}
	for _, s := range names {
		data = append(data, s...)
		data = append(data, 0)
	}
	return &Atom{Name: ErrTabSymbol, Kind: obj.ROData, Align: 4, Data: data, Size: uint64(len(data))}
}

// seedBuggyErrorTable is the table of seed 000: N offsets (one per name,
// its start), then the names.
func seedBuggyErrorTable(names []string) *Atom {
	n := len(names)
	data := make([]byte, 4*n)
	off := 4 * n
	for i, s := range names {
		putU32(data[4*i:], uint32(off))
		off += len(s) + 1
	}
	for _, s := range names {
		data = append(append(data, s...), 0)
	}
	return &Atom{Name: ErrTabSymbol, Kind: obj.ROData, Align: 4, Data: data, Size: uint64(len(data))}
}

// Objects splits a compiled program into units relocatable objects: unitOf
// gives each function's and global's unit (ir.Partition); the entry stub and
// the error table go to unit 0. Each object defines its atoms' symbols and
// declares every symbol it references but does not define as undefined.
func Objects(p *Program, unitOf map[string]int, units int, names func(unit int) string) ([]*obj.Object, error) {
	if units < 1 {
		return nil, fmt.Errorf("codegen: %d units: need at least 1", units)
	}
	byUnit := make([][]*Atom, units)
	for _, a := range p.Atoms {
		u := 0
		if a.Name != EntrySymbol && a.Name != ErrTabSymbol {
			var ok bool
			u, ok = unitOf[a.Name]
			if !ok {
				return nil, fmt.Errorf("codegen: no unit for %q", a.Name)
			}
			if u < 0 || u >= units {
				return nil, fmt.Errorf("codegen: unit %d of %q out of range 0..%d", u, a.Name, units-1)
			}
		}
		byUnit[u] = append(byUnit[u], a)
	}
	objs := make([]*obj.Object, units)
	for u, atoms := range byUnit {
		o, err := object(names(u), atoms)
		if err != nil {
			return nil, err
		}
		objs[u] = o
	}
	return objs, nil
}

func object(name string, atoms []*Atom) (*obj.Object, error) {
	o := &obj.Object{Name: name}
	index := make(map[string]int)
	for _, a := range atoms {
		sec := &obj.Section{Name: a.SectionName(), Kind: a.Kind, Align: a.Align, Size: a.Size}
		if a.Kind != obj.BSS {
			sec.Data = append([]byte(nil), a.Data...)
		}
		o.Sections = append(o.Sections, sec)
		kind := obj.SymData
		if a.IsFunc() {
			kind = obj.SymFunc
		}
		bind := obj.Global
		if a.Local {
			bind = obj.Local
		}
		index[a.Name] = len(o.Symbols)
		o.Symbols = append(o.Symbols, &obj.Symbol{Name: a.Name, Section: len(o.Sections) - 1, Size: a.Size, Bind: bind, Kind: kind})
	}
	var undef []string
	seen := make(map[string]bool)
	for _, a := range atoms {
		for _, r := range a.Relocs {
			if _, ok := index[r.Sym]; !ok && !seen[r.Sym] {
				seen[r.Sym] = true
				undef = append(undef, r.Sym)
			}
		}
	}
	sort.Strings(undef)
	for _, n := range undef {
		index[n] = len(o.Symbols)
		o.Symbols = append(o.Symbols, &obj.Symbol{Name: n, Section: obj.Undef, Bind: obj.Global})
	}
	for i, a := range atoms {
		for _, r := range a.Relocs {
			o.Sections[i].Relocs = append(o.Sections[i].Relocs, obj.Reloc{Offset: r.Offset, Kind: r.Kind, Sym: index[r.Sym], Addend: r.Addend})
		}
	}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("codegen: %w", err)
	}
	return o, nil
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func putU64(b []byte, v uint64) {
	putU32(b, uint32(v))
	putU32(b[4:], uint32(v>>32))
}

// walkStmts calls fn for every expression in body, depth first.
func walkStmts(body []ir.Stmt, fn func(ir.Expr)) {
	for _, s := range body {
		switch s := s.(type) {
		case *ir.LetStmt:
			walkExpr(s.Value, fn)
		case *ir.AssignStmt:
			walkExpr(s.Value, fn)
		case *ir.StoreStmt:
			walkExpr(s.Value, fn)
		case *ir.IfStmt:
			walkExpr(s.Cond, fn)
			walkStmts(s.Then, fn)
			walkStmts(s.Else, fn)
		case *ir.WhileStmt:
			walkExpr(s.Cond, fn)
			walkStmts(s.Body, fn)
		case *ir.ReturnStmt:
			if s.Value != nil {
				walkExpr(s.Value, fn)
			}
		case *ir.ExprStmt:
			walkExpr(s.X, fn)
		}
	}
}

func walkExpr(e ir.Expr, fn func(ir.Expr)) {
	fn(e)
	switch e := e.(type) {
	case *ir.UnaryExpr:
		walkExpr(e.X, fn)
	case *ir.BinaryExpr:
		walkExpr(e.X, fn)
		walkExpr(e.Y, fn)
	case *ir.CallExpr:
		for _, a := range e.Args {
			walkExpr(a, fn)
		}
	case *ir.CallIndirectExpr:
		walkExpr(e.Target, fn)
		for _, a := range e.Args {
			walkExpr(a, fn)
		}
	case *ir.ErrLenExpr:
		walkExpr(e.Err, fn)
	case *ir.ErrByteExpr:
		walkExpr(e.Err, fn)
		walkExpr(e.Index, fn)
	}
}
