package wasmgen

import (
	"github.com/linkcheck/linkcheck/ref/ir"
)

// Compiler compiles successive versions of one program as a compiler
// server does: a function whose definition did not change, and whose view
// of the module did not either (the values of the errors it names, whether
// each name whose address it takes is a function or a datum), keeps its
// code; the others are lowered again. The program it returns equals what
// Compile returns for the same version (TestCompilerEqualsCompile). With
// faults planted it compiles every function again: a single-site fault
// goes to the first site of a whole compile.
type Compiler struct {
	opts  Options
	funcs map[string]compiledFunc
}

// compiledFunc is a function's last definition, its code, and what of the
// module the code depends on.
type compiledFunc struct {
	f  *ir.Func
	fc *funcCode
	// errs are the values of the errors the function names; funcAddr
	// whether each name whose address it takes is a function's.
	errs     map[string]uint64
	funcAddr map[string]bool
}

// NewCompiler returns a Compiler with options opts.
func NewCompiler(opts Options) *Compiler { return &Compiler{opts: opts} }

// Compile lowers version m, which must have passed the checker.
func (c *Compiler) Compile(m *ir.Module) (*Program, error) {
	if c.opts.Faults != 0 {
		return Compile(m, c.opts)
	}
	return compileWith(m, c.opts, func(f *ir.Func, e *env) (*funcCode, error) {
		if old, ok := c.funcs[f.Name]; ok && (old.f == f || ir.FuncEqual(old.f, f)) && old.sameEnv(e) {
			return old.fc, nil
		}
		return compileFunc(f, e)
	}, c.keep)
}

// keep records the functions of the version just compiled.
func (c *Compiler) keep(m *ir.Module, e *env, fcs []*funcCode) {
	next := make(map[string]compiledFunc, len(fcs))
	for i, f := range m.Funcs {
		if old, ok := c.funcs[f.Name]; ok && old.fc == fcs[i] {
			old.f = f
			next[f.Name] = old
			continue
		}
		cf := compiledFunc{f: f, fc: fcs[i], errs: map[string]uint64{}, funcAddr: map[string]bool{}}
		ir.WalkExprs(f.Body, func(x ir.Expr) {
			switch x := x.(type) {
			case *ir.ErrorLit:
				cf.errs[x.Name] = m.ErrorValue(x.Name)
			case *ir.AddrOf:
				_, cf.funcAddr[x.Name] = e.funcs[x.Name]
			}
		})
		next[f.Name] = cf
	}
	c.funcs = next
}

// sameEnv reports whether e gives the function the view it was lowered in.
func (cf compiledFunc) sameEnv(e *env) bool {
	for n, v := range cf.errs {
		if e.m.ErrorValue(n) != v {
			return false
		}
	}
	for n, isFunc := range cf.funcAddr {
		if _, ok := e.funcs[n]; ok != isFunc {
			return false
		}
	}
	return true
}
