package codegen_test

import (
	"fmt"
	"runtime"
	"testing"

	"golang.org/x/arch/x86/x86asm"

	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/ir"
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
