package canon_test

import (
	"flag"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/canon/canontest"
)

// benchFuncs is the size of the generated program the canon and diff
// benchmarks read (ir.Generate, seed 1, 4 units).
var benchFuncs = flag.Int("canon.funcs", 10000, "functions in the program BenchmarkRead reads")

// benchProgram is canontest.LinkGenerated's program with the number of
// instructions of its image.
type benchProgram struct {
	*canontest.Generated
	insns int
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
	g, err := canontest.LinkGenerated(funcs, units)
	if err != nil {
		return nil, err
	}
	im, err := canon.Read(g.Exe, g.Objs)
	if err != nil {
		return nil, err
	}
	p := &benchProgram{Generated: g}
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
	m := canontest.StartAllocs()
	for b.Loop() {
		if _, err := canon.Read(p.Exe, p.Objs); err != nil {
			b.Fatal(err)
		}
	}
	m.Report(b, p.insns)
}

// BenchmarkOpen opens a linked program (everything but decoding its
// functions), with its objects.
func BenchmarkOpen(b *testing.B) {
	p := program(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := canon.Open(p.Exe, p.Objs); err != nil {
			b.Fatal(err)
		}
	}
}
