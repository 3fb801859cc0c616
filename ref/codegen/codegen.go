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
//
// A function body is made of a few dozen distinct instructions (insn),
// each encoded once per process by ref/x86 and copied, its frame-slot
// displacement or immediate patched, wherever it is emitted;
// TestTemplatesEqualEncoder checks the result against encoding every
// instruction. CompileWith lowers the functions of a large program on
// every core, each worker reusing its buffers; the atoms are the same, in
// declaration order, whatever the number of workers.
package codegen

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Reserved symbol names (see package obj).
const (
	EntrySymbol  = obj.EntrySymbol
	ErrTabSymbol = obj.ErrTabSymbol
	MainSymbol   = obj.MainSymbol
)

// DefaultFuncAlign is the alignment of a function without an align clause,
// as clang uses for x86_64.
const DefaultFuncAlign = 16

// maxFrameSlots bounds a function's frame; a function that needs more is an
// unsupported construct rather than a silently huge stack frame.
const maxFrameSlots = 1 << 16

// Options change how code is generated.
type Options struct {
	// CallsViaGOT makes every call, the entry stub's included, an indirect
	// `call qword ptr [rip + GOT(f)]` (GOTPCRel32, which linkers must not
	// relax): the incremental linker's `got` policy, where moving a
	// function rewrites one GOT slot and no caller.
	CallsViaGOT bool
	// Faults plants deliberate defects (tests only): fault.SeedErrTab
	// reproduces the defect of the Zig commit in seed 000 in both the
	// table (obj.ErrorTable) and its lowering.
	Faults fault.Set
}

// Compile lowers m for the given format. The module must have passed the
// checker.
func Compile(m *ir.Module, format obj.Format) (*obj.Program, error) {
	return CompileWith(m, format, Options{})
}

// CompileWith is Compile with options.
func CompileWith(m *ir.Module, format obj.Format, opts Options) (*obj.Program, error) {
	if format == obj.Wasm {
		return nil, fmt.Errorf("codegen: format wasm is produced by ref/wasmgen, not the x86_64 code generator")
	}
	return compileWith(m, format, opts, NewEnv(m), nil, nil)
}

// parallelFuncs is the number of functions from which CompileWith lowers
// them on every core: below it, starting the workers costs more than it
// saves.
const parallelFuncs = 256

// compileWith is CompileWith in the environment env, lowering each
// function with compile, or when compile is nil with CompileFunc's
// lowering on every core (each worker reusing its buffers; the atoms are
// the same whatever the number of workers, in declaration order). A
// Compiler passes its cache of CompileFunc, called in declaration order,
// and its cache of CompileGlobal (global; nil: CompileGlobal).
func compileWith(m *ir.Module, format obj.Format, opts Options, env *Env, compile func(*ir.Func, *Env) (*obj.Atom, error), global func(*ir.Global) *obj.Atom) (*obj.Program, error) {
	if global == nil {
		global = CompileGlobal
	}
	if m.Func(MainSymbol) == nil {
		return nil, fmt.Errorf("codegen: program has no main function")
	}
	env.CallsViaGOT = opts.CallsViaGOT
	env.seedErrTabBug = opts.Faults.Has(fault.SeedErrTab)
	p := &obj.Program{Format: format}
	entry := env.entry
	if entry == nil {
		var err error
		if entry, err = entryStub(format, opts); err != nil {
			return nil, err
		}
	}
	p.Atoms = make([]*obj.Atom, 1, 1+len(m.Funcs)+len(m.Globals)+1)
	p.Atoms[0] = entry
	if compile != nil {
		for _, f := range m.Funcs {
			a, err := compile(f, env)
			if err != nil {
				return nil, err
			}
			p.Atoms = append(p.Atoms, a)
		}
	} else {
		atoms, err := compileFuncs(m.Funcs, env)
		if err != nil {
			return nil, err
		}
		p.Atoms = append(p.Atoms, atoms...)
	}
	for _, g := range m.Globals {
		p.Atoms = append(p.Atoms, global(g))
	}
	if NeedsErrorTable(m) {
		p.Atoms = append(p.Atoms, obj.ErrorTable(m.Errors, opts.Faults))
	}
	return p, nil
}

// compileFuncs lowers funcs in env, on every core when there are many; the
// error is the first function's in declaration order that fails.
func compileFuncs(funcs []*ir.Func, env *Env) ([]*obj.Atom, error) {
	atoms := make([]*obj.Atom, len(funcs))
	errs := make([]error, len(funcs))
	work := func(next func() (int, int)) error {
		g, err := newFn(env)
		if err != nil {
			return err
		}
		for {
			lo, hi := next()
			if lo >= hi {
				return nil
			}
			for i := lo; i < hi; i++ {
				atoms[i], errs[i] = g.compile(funcs[i])
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), (len(funcs)+parallelFuncs-1)/parallelFuncs)
	if workers <= 1 {
		done := false
		if err := work(func() (int, int) {
			if done {
				return 0, 0
			}
			done = true
			return 0, len(funcs)
		}); err != nil {
			return nil, err
		}
	} else {
		// Chunks small enough to balance the workers, large enough that
		// taking one costs nothing.
		const chunk = 64
		var taken atomic.Int64
		next := func() (int, int) {
			hi := int(taken.Add(chunk))
			return min(hi-chunk, len(funcs)), min(hi, len(funcs))
		}
		var wg sync.WaitGroup
		werrs := make([]error, workers)
		for w := range workers {
			wg.Go(func() { werrs[w] = work(next) })
		}
		wg.Wait()
		if err := errors.Join(werrs...); err != nil {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return atoms, nil
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
func CompileGlobal(g *ir.Global) *obj.Atom {
	a := &obj.Atom{Name: g.Name, Align: 8, Size: 8}
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
		a.Relocs = []obj.SymReloc{{Offset: 0, Kind: obj.Abs64, Sym: g.Init.Addr}}
	} else {
		binary.LittleEndian.PutUint64(a.Data, g.Init.Value)
	}
	return a
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
