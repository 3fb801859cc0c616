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
