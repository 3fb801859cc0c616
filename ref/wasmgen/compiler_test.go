package wasmgen

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/wasm"
)

// objectBytes is the serialized one-unit object of p.
func objectBytes(t *testing.T, m *ir.Module, p *Program) []byte {
	t.Helper()
	objs, err := p.Objects(ir.Partition(m, 1), 1, func(int) string { return "u0.o" })
	require.NoError(t, err)
	b, err := wasm.WriteObject(objs[0])
	require.NoError(t, err)
	return b
}

// TestCompilerEqualsCompile: the compiler server's program of each version
// of random edit sequences is Compile's, and it does keep the code of
// unchanged functions.
func TestCompilerEqualsCompile(t *testing.T) {
	for _, opts := range []Options{{}, {Faults: fault.Of(fault.WasmWrongCallSymbol)}} {
		for seed := int64(1); seed <= 6; seed++ {
			c := NewCompiler(opts)
			reused := 0
			var prev *Program
			for k, m := range ir.Sequence(seed, 15, 25) {
				got, err := c.Compile(m)
				require.NoError(t, err)
				want, err := Compile(m, opts)
				require.NoError(t, err)
				require.Equal(t, objectBytes(t, m, want), objectBytes(t, m, got), "seed %d v%d", seed, k+1)
				if prev != nil {
					old := map[string]*funcCode{}
					for _, fc := range prev.funcs {
						old[fc.Name] = fc
					}
					for _, fc := range got.funcs {
						if old[fc.Name] == fc {
							reused++
						}
					}
				}
				prev = got
			}
			if opts.Faults == 0 {
				require.Positive(t, reused, "seed %d: no function's code reused", seed)
			}
		}
	}
}

// TestCompilerEnvironment: a function that did not change is lowered again
// when its view of the module did: the value of an error it names, or
// whether a name whose address it takes is a function's.
func TestCompilerEnvironment(t *testing.T) {
	versions := []string{
		"errors A, B\nglobal g = 0\nfunc h() { return 1 }\nfunc f() { return error.B + &h }\nfunc main() { return f() + h() + load g }\n",
		// B's value changes: f must be lowered again.
		"errors Z, A, B\nglobal g = 0\nfunc h() { return 1 }\nfunc f() { return error.B + &h }\nfunc main() { return f() + h() + load g }\n",
		// h becomes a datum: &h is a data address now.
		"errors Z, A, B\nglobal g = 0\nglobal h = 5\nfunc f() { return error.B + &h }\nfunc main() { return f() + load h + load g }\n",
	}
	c := NewCompiler(Options{})
	for k, src := range versions {
		m, err := ir.Parse("v.lir", []byte(src))
		require.NoError(t, err, "v%d", k+1)
		require.NoError(t, ir.Check(m), "v%d", k+1)
		got, err := c.Compile(m)
		require.NoError(t, err)
		want, err := Compile(m, Options{})
		require.NoError(t, err)
		require.Equal(t, objectBytes(t, m, want), objectBytes(t, m, got), "v%d", k+1)
	}
}
