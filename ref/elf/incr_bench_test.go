package elf

import (
	"math/rand"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// BenchmarkUpdate times one-function updates through IncrOutput.UpdateAtoms
// on a generated program of 100,000 functions (10,000 with -short): in
// place (ir.GrowFunc by one byte) and with a move (grown past its slot),
// each on a different random function. Editing and compiling the function
// are outside the timed region. `linkcheck bench update` compares the same
// figures with full links (see docs/benchmarks.md).
func BenchmarkUpdate(b *testing.B) {
	funcs := 100000
	if testing.Short() {
		funcs = 10000
	}
	for _, policy := range []incr.Policy{incr.Trampoline, incr.ThroughGOT} {
		m := ir.Generate(ir.GenConfig{Seed: 1, Funcs: funcs})
		opts := codegen.Options{CallsViaGOT: policy == incr.ThroughGOT}
		prog, err := codegen.CompileWith(m, obj.ELF, opts)
		if err != nil {
			b.Fatal(err)
		}
		out, err := CreateIncr(filepath.Join(b.TempDir(), "out"), prog, policy, "")
		if err != nil {
			b.Fatal(err)
		}
		env := codegen.NewEnv(m)
		env.CallsViaGOT = opts.CallsViaGOT
		r := rand.New(rand.NewSource(1))
		for _, move := range []bool{false, true} {
			name := "inplace"
			if move {
				name = "move"
			}
			b.Run(string(policy)+"/"+name+"/funcs="+strconv.Itoa(funcs), func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					f := m.Funcs[r.Intn(len(m.Funcs))]
					cur := out.State.Atoms[f.Name]
					grow := uint64(1)
					if move {
						grow = cur.Slot - cur.Size + 16
					}
					next, _, err := ir.GrowFunc(m, f.Name, grow)
					if err != nil {
						b.Fatal(err)
					}
					a, err := codegen.CompileFunc(next.Func(f.Name), env)
					if err != nil {
						b.Fatal(err)
					}
					m = next
					b.StartTimer()
					if _, err := out.UpdateAtoms([]*codegen.Atom{a}, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		out.Close()
	}
}
