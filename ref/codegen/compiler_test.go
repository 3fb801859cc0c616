package codegen

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// TestCompilerEqualsCompile: over random edit sequences, a Compiler's
// program for each version equals CompileWith's, and it does reuse the
// atoms of unchanged functions.
func TestCompilerEqualsCompile(t *testing.T) {
	for _, opts := range []Options{{}, {CallsViaGOT: true}, {Faults: fault.Of(fault.SeedErrTab)}} {
		for seed := int64(1); seed <= 6; seed++ {
			c := NewCompiler(obj.ELF, opts)
			reused := 0
			var prev *obj.Program
			for k, m := range ir.Sequence(seed, 15, 25) {
				got, err := c.Compile(m)
				require.NoError(t, err)
				want, err := CompileWith(m, obj.ELF, opts)
				require.NoError(t, err)
				require.Equal(t, want, got, "seed %d v%d", seed, k+1)
				if prev != nil {
					old := map[string]*obj.Atom{}
					for _, a := range prev.Atoms {
						old[a.Name] = a
					}
					for _, a := range got.Atoms {
						if a.IsFunc() && old[a.Name] == a {
							reused++
						}
					}
				}
				prev = got
			}
			require.Positive(t, reused, "seed %d: no atom reused", seed)
		}
	}
}

// TestCompilerEnvironment: a function kept unchanged is lowered again
// when what its lowering read of the rest of the program changes — the
// value of an error it names, whether a function whose address it takes
// is local — so its atom is CompileWith's, not the last version's.
func TestCompilerEnvironment(t *testing.T) {
	m, err := ir.Parse("env.lir", []byte(`errors A, B
func target(x) { return x }
func user() { return error.B + call &target(1) }
func main() { return user() }
`))
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		edit func(m *ir.Module) *ir.Module
	}{
		{"error value", func(m *ir.Module) *ir.Module {
			n, _, err := ir.AddError(m, "Z", 0)
			require.NoError(t, err)
			return n
		}},
		{"address local", func(m *ir.Module) *ir.Module {
			n := *m
			n.Funcs = append([]*ir.Func(nil), m.Funcs...)
			local := *m.Funcs[0]
			local.Local = true
			n.Funcs[0] = &local
			return &n
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCompiler(obj.ELF, Options{})
			first, err := c.Compile(m)
			require.NoError(t, err)
			n := tc.edit(m)
			require.Same(t, m.Func("user"), n.Func("user"))
			got, err := c.Compile(n)
			require.NoError(t, err)
			want, err := CompileWith(n, obj.ELF, Options{})
			require.NoError(t, err)
			require.NotEqual(t, first.Atom("user"), want.Atom("user"), "the edit changes user's code")
			require.Equal(t, want, got)
		})
	}
}
