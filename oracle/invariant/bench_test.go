package invariant

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// BenchmarkCheckProgram checks invariants 3 to 7 of the incremental
// outputs of 20 random edits of a 40-function program, as the checked
// update loop does after every update: ns/op is one check.
func BenchmarkCheckProgram(b *testing.B) {
	for _, f := range []obj.Format{obj.ELF, obj.MachO, obj.COFF, obj.Wasm} {
		b.Run(string(f), func(b *testing.B) {
			t, err := target.Lookup(f)
			require.NoError(b, err)
			compile := t.NewCompiler(target.CompileOptions{})
			m := ir.Generate(ir.GenConfig{Seed: 1, Funcs: 40})
			p, err := compile(m)
			require.NoError(b, err)
			o, err := incr.NewMemOutput(t.Image, p, "", incr.Options{})
			require.NoError(b, err)
			type version struct {
				m    *ir.Module
				p    *obj.Program
				data []byte
			}
			var vs []version
			r := rand.New(rand.NewSource(1))
			for range 20 {
				m, _ = ir.RandomEditShared(m, r)
				p, err := compile(m)
				require.NoError(b, err)
				_, err = o.Update(p, "")
				require.NoError(b, err)
				vs = append(vs, version{m, p, append([]byte(nil), o.Bytes()...)})
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				v := vs[i%len(vs)]
				i++
				if err := CheckProgram(v.data, v.p, v.m, Options{Format: f}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
