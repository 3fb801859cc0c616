package canon_test

import (
	"flag"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// benchFuncs is the size of the generated program the canon and diff
// benchmarks read (ir.Generate, seed 1, 4 units).
var benchFuncs = flag.Int("canon.funcs", 10000, "functions in the program BenchmarkRead reads")

// BenchProgram is one generated program compiled into objects and linked
// by the reference linker twice, in unit order and in reverse unit order
// (two layouts of the same objects).
type benchProgram struct {
	objs     []*obj.Object
	exe, rev []byte
	insns    int
}

var (
	benchOnce sync.Once
	benchProg *benchProgram
	benchErr  error
)

// program builds the benchmark program once per test binary.
func program(b *testing.B) *benchProgram {
	benchOnce.Do(func() { benchProg, benchErr = buildBenchProgram(*benchFuncs, 4) })
	require.NoError(b, benchErr)
	return benchProg
}

func buildBenchProgram(funcs, units int) (*benchProgram, error) {
	objs, err := target.MustLookup(obj.ELF).ReadBack(ir.Generate(ir.GenConfig{Seed: 1, Funcs: funcs}), units, target.CompileOptions{})
	if err != nil {
		return nil, err
	}
	p := &benchProgram{objs: objs}
	platform := elf.Exe{}
	if p.exe, _, err = link.Link(p.objs, platform, link.Options{}); err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	rev := slices.Clone(p.objs)
	slices.Reverse(rev)
	if p.rev, _, err = link.Link(rev, platform, link.Options{}); err != nil {
		return nil, fmt.Errorf("link reversed: %w", err)
	}
	im, err := canon.Read(p.exe, p.objs)
	if err != nil {
		return nil, err
	}
	for _, s := range im.Symbols {
		p.insns += len(s.Insns)
	}
	return p, nil
}

// BenchmarkRead reads a linked program into its canonical image, with its
// objects: instructions per second and bytes allocated per instruction.
func BenchmarkRead(b *testing.B) {
	p := program(b)
	b.ReportAllocs()
	m := startAllocs()
	for b.Loop() {
		if _, err := canon.Read(p.exe, p.objs); err != nil {
			b.Fatal(err)
		}
	}
	m.report(b, p.insns)
}

// allocMeter measures the bytes a benchmark loop allocates.
type allocMeter struct{ start uint64 }

func startAllocs() allocMeter {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return allocMeter{ms.TotalAlloc}
}

// report reports insns/s and B/insn for a loop that handled insns
// instructions per iteration.
func (m allocMeter) report(b *testing.B, insns int) {
	b.Helper()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n := float64(b.N) * float64(insns)
	b.ReportMetric(n/b.Elapsed().Seconds(), "insns/s")
	b.ReportMetric(float64(ms.TotalAlloc-m.start)/n, "B/insn")
}

// BenchmarkOpen opens a linked program (everything but decoding its
// functions), with its objects.
func BenchmarkOpen(b *testing.B) {
	p := program(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := canon.Open(p.exe, p.objs); err != nil {
			b.Fatal(err)
		}
	}
}
