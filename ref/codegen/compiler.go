package codegen

import (
	"maps"

	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Compiler compiles successive versions of one program as a compiler
// server does: a function whose definition and environment (Env: the
// program's local functions and error values) did not change since the
// previous version keeps its atom; the others are lowered again. The
// program it returns equals what CompileWith returns for the same version
// (TestCompilerEqualsCompile), so the incremental linker and its checks see
// no difference, only the cost of compiling what changed.
type Compiler struct {
	format obj.Format
	opts   Options
	env    *Env
	funcs  map[string]compiled
}

// compiled is a function's last definition and its atom.
type compiled struct {
	f *ir.Func
	a *obj.Atom
}

// NewCompiler returns a Compiler for format and options.
func NewCompiler(format obj.Format, opts Options) *Compiler {
	return &Compiler{format: format, opts: opts}
}

// Compile lowers version m; m must have passed the checker.
func (c *Compiler) Compile(m *ir.Module) (*obj.Program, error) {
	env := NewEnv(m)
	keep := c.env != nil && maps.Equal(c.env.LocalFuncs, env.LocalFuncs) && maps.Equal(c.env.ErrorValues, env.ErrorValues)
	next := make(map[string]compiled, len(m.Funcs))
	p, err := compileWith(m, c.format, c.opts, env, func(f *ir.Func, env *Env) (*obj.Atom, error) {
		if old, ok := c.funcs[f.Name]; keep && ok && ir.FuncEqual(old.f, f) {
			next[f.Name] = old
			return old.a, nil
		}
		a, err := CompileFunc(f, env)
		if err != nil {
			return nil, err
		}
		next[f.Name] = compiled{f: f, a: a}
		return a, nil
	})
	if err != nil {
		return nil, err
	}
	c.env, c.funcs = env, next
	return p, nil
}
