package codegen_test

import (
	"fmt"
	"math/rand"
	"runtime"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/ir/irtest"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// countInsns decodes the code of p's functions and counts the
// instructions (a multi-byte nop is one).
func countInsns(b *testing.B, p *obj.Program) int {
	n := 0
	for _, a := range p.Atoms {
		if !a.IsFunc() {
			continue
		}
		for code := a.Data; len(code) > 0; n++ {
			in, err := x86asm.Decode(code, 64)
			if err != nil {
				b.Fatalf("%s: %v", a.Name, err)
			}
			code = code[in.Len:]
		}
	}
	return n
}

// BenchmarkBuild measures what `linkcheck diff` and `linkcheck build` do
// with a program before any linker runs: the code generator (Compile) and
// the whole build into 4 ELF objects (compile, partition, object model,
// serialization: target.Objects), on ir.Generate programs. It reports
// instructions compiled per second and bytes allocated per instruction.
func BenchmarkBuild(b *testing.B) {
	for _, funcs := range []int{2000, 20000} {
		m := ir.Generate(ir.GenConfig{Seed: 1, Funcs: funcs})
		p, err := codegen.Compile(m, obj.ELF)
		if err != nil {
			b.Fatal(err)
		}
		insns := countInsns(b, p)
		var before runtime.MemStats
		start := func(b *testing.B) {
			b.ReportAllocs()
			runtime.ReadMemStats(&before)
		}
		report := func(b *testing.B) {
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			total := float64(insns) * float64(b.N)
			b.ReportMetric(total/b.Elapsed().Seconds(), "insns/s")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/total, "B/insn")
		}
		b.Run(fmt.Sprintf("Compile/funcs=%d", funcs), func(b *testing.B) {
			start(b)
			for b.Loop() {
				if _, err := codegen.Compile(m, obj.ELF); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
		b.Run(fmt.Sprintf("Objects/funcs=%d", funcs), func(b *testing.B) {
			t := target.MustLookup(obj.ELF)
			start(b)
			for b.Loop() {
				if _, _, err := t.Objects(m, 4, target.CompileOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
	}
}

// editSequences returns 20 sequences of 21 versions: generated programs
// of 40 functions and 20 random edits of each, as the checked update loop
// (`linkcheck bench check`) compiles them.
func editSequences() [][]*ir.Module {
	var seqs [][]*ir.Module
	for seed := int64(1); seed <= 20; seed++ {
		m := ir.Generate(ir.GenConfig{Seed: seed, Funcs: 40})
		r := rand.New(rand.NewSource(seed))
		var ed ir.Editor
		seq := []*ir.Module{m}
		for range 20 {
			m, _ = ed.RandomEditShared(m, r)
			seq = append(seq, m)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// BenchmarkCompilerSequence compiles every version of edit sequences
// with one Compiler per sequence, as a session does.
func BenchmarkCompilerSequence(b *testing.B) {
	seqs := editSequences()
	b.ReportAllocs()
	versions := 0
	for i := 0; b.Loop(); i++ {
		c := codegen.NewCompiler(obj.ELF, codegen.Options{})
		for _, m := range seqs[i%len(seqs)] {
			if _, err := c.Compile(m); err != nil {
				b.Fatal(err)
			}
			versions++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(versions), "ns/version")
}

// BenchmarkProgramLayer is the program layer of the checked update loop
// (`linkcheck bench check -format elf`): for each sequence a generated
// program of 40 functions and 20 random edits, each version compiled by
// one Compiler and every 4th (and the last) interpreted. "plain" draws
// the edits with ir.RandomEditShared and interprets with ir.Interp, "kept"
// with an ir.Editor and an ir.Interpreter per sequence (what the loop
// does); ns/update is per edit.
func BenchmarkProgramLayer(b *testing.B) {
	irtest.ProgramLayer(b, func(b *testing.B) (compile, checked func(*ir.Module)) {
		c := codegen.NewCompiler(obj.ELF, codegen.Options{})
		return func(m *ir.Module) {
			if _, err := c.Compile(m); err != nil {
				b.Fatal(err)
			}
		}, nil
	})
}
