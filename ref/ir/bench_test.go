package ir

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// BenchmarkParse reports parse+check throughput (MB/s) on a generated
// program of 10,000 functions.
func BenchmarkParse(b *testing.B) {
	src := Print(Generate(GenConfig{Seed: 1, Funcs: 10_000}))
	b.SetBytes(int64(len(src)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse("bench.lir", src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInterp reports interpreter throughput in steps per second on a
// generated program of 10,000 functions (check and compile included).
func BenchmarkInterp(b *testing.B) {
	m := Generate(GenConfig{Seed: 1, Funcs: 10_000})
	p := &checker{m: m}
	p.resolve(nil)
	steps := countSteps(b, p.prog)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Interp(m, InterpOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(steps)*float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}

// BenchmarkGenerate reports generator throughput in functions per second.
func BenchmarkGenerate(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Generate(GenConfig{Seed: int64(i), Funcs: 10_000})
	}
	b.ReportMetric(10_000*float64(b.N)/b.Elapsed().Seconds(), "funcs/s")
}

func countSteps(b *testing.B, p *program) int64 {
	const fuel = DefaultFuel
	in := &interp{p: p, fuel: fuel, maxDepth: DefaultMaxDepth}
	in.globals = append([]value(nil), p.globals...)
	in.fn = p.funcs[p.main]
	in.call(p.main, nil, Pos{})
	if in.fuel < 0 {
		b.Fatal("out of fuel")
	}
	return fuel - in.fuel
}

// BenchmarkCheckManyLocals checks one block of 100,000 lets: linear in
// the locals (it was quadratic, 19 s; issue 17, defect 9).
func BenchmarkCheckManyLocals(b *testing.B) {
	var src strings.Builder
	src.WriteString("func main() {\n")
	for i := range 100000 {
		fmt.Fprintf(&src, "  let v%d = %d\n", i, i)
	}
	src.WriteString("  return v99999\n}\n")
	data := []byte(src.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("lets.lir", data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRandomEditShared reports the edit generator's cost per edit
// as the checked update loop (`linkcheck bench check`) draws them:
// sequences of 20 edits from generated programs of 40 functions.
func BenchmarkRandomEditShared(b *testing.B) {
	b.Run("func", func(b *testing.B) { benchRandomEdit(b, nil) })
	b.Run("editor", func(b *testing.B) { benchRandomEdit(b, &Editor{}) })
}

func benchRandomEdit(b *testing.B, ed *Editor) {
	var seqs [][]*Module
	for seed := int64(1); seed <= 50; seed++ {
		m := Generate(GenConfig{Seed: seed, Funcs: 40})
		seqs = append(seqs, []*Module{m})
	}
	b.ReportAllocs()
	b.ResetTimer()
	edits := 0
	for i := 0; i < b.N; i++ {
		seed := int64(i%len(seqs)) + 1
		m := seqs[seed-1][0]
		r := rand.New(rand.NewSource(seed))
		for range 20 {
			m, _ = ed.RandomEditShared(m, r)
			edits++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(edits), "ns/edit")
}

// BenchmarkInterpSequence interprets every 4th version of 20-edit
// sequences of 40-function programs, and the last, as the checked update
// loop's full checks do: "interp" with Interp, "interpreter" with one
// Interpreter per sequence.
func BenchmarkInterpSequence(b *testing.B) {
	var seqs [][]*Module
	for seed := int64(1); seed <= 20; seed++ {
		m := Generate(GenConfig{Seed: seed, Funcs: 40})
		r := rand.New(rand.NewSource(seed))
		var ed Editor
		seq := []*Module{m}
		for i := range 20 {
			m, _ = ed.RandomEditShared(m, r)
			if i%4 == 3 || i == 19 {
				seq = append(seq, m)
			}
		}
		seqs = append(seqs, seq)
	}
	for _, kept := range []bool{false, true} {
		name := map[bool]string{false: "interp", true: "interpreter"}[kept]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			versions := 0
			for i := 0; b.Loop(); i++ {
				var in Interpreter
				for _, m := range seqs[i%len(seqs)] {
					var err error
					if kept {
						_, err = in.Interp(m, InterpOptions{})
					} else {
						_, err = Interp(m, InterpOptions{})
					}
					if err != nil {
						b.Fatal(err)
					}
					versions++
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(versions), "ns/version")
		})
	}
}
