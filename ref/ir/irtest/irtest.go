// Package irtest holds test helpers over ref/ir that other packages'
// tests and benchmarks share.
package irtest

import (
	"math/rand"
	"testing"

	"github.com/linkcheck/linkcheck/ref/ir"
)

// ProgramLayer benchmarks the program layer of the checked update loop
// (`linkcheck bench check`): for each sequence a generated program of 40
// functions and 20 random edits; every version is handed to compile, and
// every 4th and the last are interpreted and then handed to checked (nil:
// nothing more). newSequence returns the two for a new sequence. The
// sub-benchmark "plain" draws the edits with ir.RandomEditShared and
// interprets with ir.Interp, "kept" with an ir.Editor and an
// ir.Interpreter per sequence (what the loop does); ns/update is per edit.
func ProgramLayer(b *testing.B, newSequence func(b *testing.B) (compile, checked func(*ir.Module))) {
	for _, kept := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "kept"}[kept], func(b *testing.B) {
			b.ReportAllocs()
			updates := 0
			for i := 0; b.Loop(); i++ {
				seed := int64(i%50) + 1
				m := ir.Generate(ir.GenConfig{Seed: seed, Funcs: 40})
				r := rand.New(rand.NewSource(seed))
				compile, checked := newSequence(b)
				var ed ir.Editor
				var in ir.Interpreter
				compile(m)
				for k := range 20 {
					if kept {
						m, _ = ed.RandomEditShared(m, r)
					} else {
						m, _ = ir.RandomEditShared(m, r)
					}
					compile(m)
					if k%4 == 3 || k == 19 {
						var err error
						if kept {
							_, err = in.Interp(m, ir.InterpOptions{})
						} else {
							_, err = ir.Interp(m, ir.InterpOptions{})
						}
						if err != nil {
							b.Fatal(err)
						}
						if checked != nil {
							checked(m)
						}
					}
					updates++
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(updates), "ns/update")
		})
	}
}
