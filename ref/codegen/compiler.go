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
	// spare is the map of the version before last, cleared and reused
	// for the next.
	spare map[string]compiled
	// globals are the atoms of the last version's globals (an atom
	// depends on its declaration alone), spareGlobals the map before.
	globals, spareGlobals map[*ir.Global]*obj.Atom
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
	// deps are the values of the errors the function names (0: unknown)
	// and whether each function whose address it takes was local.
	deps ir.Deps
}

// NewCompiler returns a Compiler for format and options.
func NewCompiler(format obj.Format, opts Options) *Compiler {
	return &Compiler{format: format, opts: opts}
}

// Compile lowers version m; m must have passed the checker.
func (c *Compiler) Compile(m *ir.Module) (*obj.Program, error) {
	next := c.spare
	if next == nil {
		next = make(map[string]compiled, len(m.Funcs))
	}
	clear(next)
	nextGlobals := c.spareGlobals
	if nextGlobals == nil {
		nextGlobals = make(map[*ir.Global]*obj.Atom, len(m.Globals))
	}
	clear(nextGlobals)
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
		// what of env the lowering of f into a read
		next[f.Name] = compiled{f: f, a: a, deps: c.g.deps.Clone()}
		return a, nil
	}, func(g *ir.Global) *obj.Atom {
		a, ok := c.globals[g]
		if !ok {
			a = CompileGlobal(g)
		}
		nextGlobals[g] = a
		return a
	})
	if err != nil {
		return nil, err
	}
	c.funcs, c.spare, c.entry = next, c.funcs, p.Atoms[0]
	c.globals, c.spareGlobals = nextGlobals, c.globals
	return p, nil
}

// sameEnv reports whether env gives the function the view it was lowered
// in.
func (cf compiled) sameEnv(env *Env) bool {
	return cf.deps.Same(func(name string) uint64 { return env.ErrorValues[name] }, func(name string) bool { return env.LocalFuncs[name] })
}
