package codegen

import (
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Compiler compiles successive versions of one program as a compiler
// server does: a function whose definition did not change, and whose view
// of the environment did not either (the values of the errors it names,
// whether the functions whose addresses it takes are local), keeps its
// atom; the others are lowered again. The program it returns equals what
// CompileWith returns for the same version (TestCompilerEqualsCompile), so
// the incremental linker and its checks see no difference, only the cost
// of compiling what changed.
type Compiler struct {
	format obj.Format
	opts   Options
	funcs  map[string]compiled
	// g lowers the changed functions, its buffers kept between versions.
	g *fn
	// entry is the entry stub the last version got.
	entry *obj.Atom
}

// compiled is a function's last definition, its atom, and what of the
// environment the atom depends on.
type compiled struct {
	f *ir.Func
	a *obj.Atom
	// errs are the values of the errors the function names (0: unknown);
	// addrs whether each function whose address it takes was local.
	errs  map[string]uint64
	addrs map[string]bool
}

// NewCompiler returns a Compiler for format and options.
func NewCompiler(format obj.Format, opts Options) *Compiler {
	return &Compiler{format: format, opts: opts}
}

// Compile lowers version m; m must have passed the checker.
func (c *Compiler) Compile(m *ir.Module) (*obj.Program, error) {
	next := make(map[string]compiled, len(m.Funcs))
	env := NewEnv(m)
	env.entry = c.entry // it depends on the format and options only
	p, err := compileWith(m, c.format, c.opts, env, func(f *ir.Func, env *Env) (*obj.Atom, error) {
		if old, ok := c.funcs[f.Name]; ok && (old.f == f || ir.FuncEqual(old.f, f)) && old.sameEnv(env) {
			next[f.Name] = old
			return old.a, nil
		}
		if c.g == nil {
			g, err := newFn(env)
			if err != nil {
				return nil, err
			}
			c.g = g
		}
		c.g.env, c.g.encodeEach = env, env.encodeEach
		a, err := c.g.compile(f)
		if err != nil {
			return nil, err
		}
		next[f.Name] = dependencies(f, a, env)
		return a, nil
	})
	if err != nil {
		return nil, err
	}
	c.funcs, c.entry = next, p.Atoms[0]
	return p, nil
}

// dependencies records what of env the lowering of f into a depends on.
func dependencies(f *ir.Func, a *obj.Atom, env *Env) compiled {
	cf := compiled{f: f, a: a, errs: map[string]uint64{}, addrs: map[string]bool{}}
	walkStmts(f.Body, func(e ir.Expr) {
		switch e := e.(type) {
		case *ir.ErrorLit:
			cf.errs[e.Name] = env.ErrorValues[e.Name]
		case *ir.AddrOf:
			cf.addrs[e.Name] = env.LocalFuncs[e.Name]
		}
	})
	return cf
}

// sameEnv reports whether env gives the function the view it was lowered
// in.
func (cf compiled) sameEnv(env *Env) bool {
	for n, v := range cf.errs {
		if env.ErrorValues[n] != v {
			return false
		}
	}
	for n, local := range cf.addrs {
		if env.LocalFuncs[n] != local {
			return false
		}
	}
	return true
}
