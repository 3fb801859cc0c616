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
	// spare is the map of the version before last, cleared and reused
	// for the next.
	spare map[string]compiledFunc
}

// compiledFunc is a function's last definition, its code, and what of the
// module the code depends on.
type compiledFunc struct {
	f  *ir.Func
	fc *funcCode
	// deps are the values of the errors it names and whether each name
	// whose address it takes is a function's.
	deps ir.Deps
}

// NewCompiler returns a Compiler with options opts.
func NewCompiler(opts Options) *Compiler { return &Compiler{opts: opts} }

// Compile lowers version m, which must have passed the checker.
func (c *Compiler) Compile(m *ir.Module) (*Program, error) {
	if c.opts.Faults != 0 {
		return Compile(m, c.opts)
	}
	next := c.spare
	if next == nil {
		next = make(map[string]compiledFunc, len(m.Funcs))
	}
	clear(next)
	p, err := compileWith(m, c.opts, func(f *ir.Func, e *env) (*funcCode, error) {
		if old, ok := c.funcs[f.Name]; ok && (old.f == f || ir.FuncEqual(old.f, f)) && old.sameEnv(e) {
			old.f = f
			next[f.Name] = old
			return old.fc, nil
		}
		fc, deps, err := lowerFunc(f, e)
		if err != nil {
			return nil, err
		}
		next[f.Name] = compiledFunc{f: f, fc: fc, deps: deps}
		return fc, nil
	}, nil)
	if err != nil {
		return nil, err
	}
	c.funcs, c.spare = next, c.funcs
	return p, nil
}

// sameEnv reports whether e gives the function the view it was lowered in.
func (cf compiledFunc) sameEnv(e *env) bool {
	return cf.deps.Same(e.m.ErrorValue, func(name string) bool {
		_, ok := e.funcs[name]
		return ok
	})
}
