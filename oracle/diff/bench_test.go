package diff_test

import (
	"flag"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/canon/canontest"
	"github.com/linkcheck/linkcheck/oracle/diff"
)

var benchFuncs = flag.Int("diff.funcs", 10000, "functions in the program the Compare benchmarks diff")

// benchProgram is canontest.LinkGenerated's program, also linked in the
// other rotations of unit order, with the instructions its diff compares.
type benchProgram struct {
	*canontest.Generated
	insns int
	// layouts are links of the objects in other orders (rotations).
	layouts [][]byte
}

var (
	benchOnce sync.Once
	benchProg *benchProgram
	benchErr  error
)

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
	p := &benchProgram{Generated: g}
	if p.layouts, err = g.Rotations(); err != nil {
		return nil, err
	}
	a, err := canon.Open(p.Exe, p.Objs)
	if err != nil {
		return nil, err
	}
	b, err := canon.Open(p.Rev, p.Objs)
	if err != nil {
		return nil, err
	}
	rep := diff.Compare(a, b, diff.Options{})
	if !rep.Equal() {
		return nil, fmt.Errorf("the two layouts differ:\n%s", rep.Text())
	}
	p.insns = rep.Coverage.Insns
	return p, nil
}

// BenchmarkCompareOpen is the diff as linkcheck diff runs it: both
// executables opened (canon.Open) and compared function by function.
func BenchmarkCompareOpen(b *testing.B) {
	p := program(b)
	b.ReportAllocs()
	m := canontest.StartAllocs()
	for b.Loop() {
		x, err := canon.Open(p.Exe, p.Objs)
		require.NoError(b, err)
		y, err := canon.Open(p.Rev, p.Objs)
		require.NoError(b, err)
		if !diff.Compare(x, y, diff.Options{}).Equal() {
			b.Fatal("images differ")
		}
	}
	m.Report(b, p.insns)
}

// BenchmarkCompareRead is the same with whole images (canon.Read), the
// way the diff ran before images could be opened.
func BenchmarkCompareRead(b *testing.B) {
	p := program(b)
	b.ReportAllocs()
	m := canontest.StartAllocs()
	for b.Loop() {
		x, err := canon.Read(p.Exe, p.Objs)
		require.NoError(b, err)
		y, err := canon.Read(p.Rev, p.Objs)
		require.NoError(b, err)
		if !diff.Compare(x, y, diff.Options{}).Equal() {
			b.Fatal("images differ")
		}
	}
	m.Report(b, p.insns)
}

// BenchmarkCompareOpenCached is BenchmarkCompareOpen with a DecodeCache
// kept across iterations, as the updates of an incremental sequence
// would: every function's bytes were seen before.
func BenchmarkCompareOpenCached(b *testing.B) {
	p := program(b)
	cache := canon.NewDecodeCache(4 * p.insns)
	b.ReportAllocs()
	m := canontest.StartAllocs()
	for b.Loop() {
		x, err := canon.Open(p.Exe, p.Objs)
		require.NoError(b, err)
		y, err := canon.Open(p.Rev, p.Objs)
		require.NoError(b, err)
		if !diff.Compare(x, y, diff.Options{Cache: cache}).Equal() {
			b.Fatal("images differ")
		}
	}
	m.Report(b, p.insns)
}

// BenchmarkCompareOpenRelinked compares, with one DecodeCache kept across
// iterations, a different pair of layouts each time (the objects in
// rotated orders): functions move, so their calls' bytes change, as in an
// incremental sequence's fresh links. The cache's decoding of each
// symbol's previous version serves the instructions whose bytes did not
// change.
func BenchmarkCompareOpenRelinked(b *testing.B) {
	p := program(b)
	cache := canon.NewDecodeCache(8 * p.insns)
	all := append([][]byte{p.Exe, p.Rev}, p.layouts...)
	b.ReportAllocs()
	m := canontest.StartAllocs()
	i := 0
	for b.Loop() {
		x, err := canon.Open(all[i%len(all)], p.Objs)
		require.NoError(b, err)
		y, err := canon.Open(all[(i+1)%len(all)], p.Objs)
		require.NoError(b, err)
		if !diff.Compare(x, y, diff.Options{Cache: cache}).Equal() {
			b.Fatal("images differ")
		}
		i += 2
	}
	m.Report(b, p.insns)
}
