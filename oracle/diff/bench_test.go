package diff_test

import (
	"flag"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

var benchFuncs = flag.Int("diff.funcs", 10000, "functions in the program the Compare benchmarks diff")

// benchProgram is a generated program (ir.Generate, seed 1, 4 units)
// linked by the reference linker in unit order and in reverse order: two
// layouts of the same objects, with equal images.
type benchProgram struct {
	objs     []*obj.Object
	exe, rev []byte
	insns    int
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
	for k := 1; k < len(p.objs); k++ {
		rot := append(slices.Clone(p.objs[k:]), p.objs[:k]...)
		exe, _, err := link.Link(rot, platform, link.Options{})
		if err != nil {
			return nil, fmt.Errorf("link rotated: %w", err)
		}
		p.layouts = append(p.layouts, exe)
	}
	a, err := canon.Open(p.exe, p.objs)
	if err != nil {
		return nil, err
	}
	b, err := canon.Open(p.rev, p.objs)
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

// allocMeter measures the bytes a benchmark loop allocates.
type allocMeter struct{ start uint64 }

func startAllocs() allocMeter {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return allocMeter{ms.TotalAlloc}
}

// report reports instructions per second and bytes allocated per
// instruction, for insns instructions per iteration (each compared
// instruction counts once: both sides are read).
func (m allocMeter) report(b *testing.B, insns int) {
	b.Helper()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n := float64(b.N) * float64(insns)
	b.ReportMetric(n/b.Elapsed().Seconds(), "insns/s")
	b.ReportMetric(float64(ms.TotalAlloc-m.start)/n, "B/insn")
}

// BenchmarkCompareOpen is the diff as linkcheck diff runs it: both
// executables opened (canon.Open) and compared function by function.
func BenchmarkCompareOpen(b *testing.B) {
	p := program(b)
	b.ReportAllocs()
	m := startAllocs()
	for b.Loop() {
		x, err := canon.Open(p.exe, p.objs)
		require.NoError(b, err)
		y, err := canon.Open(p.rev, p.objs)
		require.NoError(b, err)
		if !diff.Compare(x, y, diff.Options{}).Equal() {
			b.Fatal("images differ")
		}
	}
	m.report(b, p.insns)
}

// BenchmarkCompareRead is the same with whole images (canon.Read), the
// way the diff ran before images could be opened.
func BenchmarkCompareRead(b *testing.B) {
	p := program(b)
	b.ReportAllocs()
	m := startAllocs()
	for b.Loop() {
		x, err := canon.Read(p.exe, p.objs)
		require.NoError(b, err)
		y, err := canon.Read(p.rev, p.objs)
		require.NoError(b, err)
		if !diff.Compare(x, y, diff.Options{}).Equal() {
			b.Fatal("images differ")
		}
	}
	m.report(b, p.insns)
}

// BenchmarkCompareOpenCached is BenchmarkCompareOpen with a DecodeCache
// kept across iterations, as the updates of an incremental sequence
// would: every function's bytes were seen before.
func BenchmarkCompareOpenCached(b *testing.B) {
	p := program(b)
	cache := canon.NewDecodeCache(4 * p.insns)
	b.ReportAllocs()
	m := startAllocs()
	for b.Loop() {
		x, err := canon.Open(p.exe, p.objs)
		require.NoError(b, err)
		y, err := canon.Open(p.rev, p.objs)
		require.NoError(b, err)
		if !diff.Compare(x, y, diff.Options{Cache: cache}).Equal() {
			b.Fatal("images differ")
		}
	}
	m.report(b, p.insns)
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
	all := append([][]byte{p.exe, p.rev}, p.layouts...)
	b.ReportAllocs()
	m := startAllocs()
	i := 0
	for b.Loop() {
		x, err := canon.Open(all[i%len(all)], p.objs)
		require.NoError(b, err)
		y, err := canon.Open(all[(i+1)%len(all)], p.objs)
		require.NoError(b, err)
		if !diff.Compare(x, y, diff.Options{Cache: cache}).Equal() {
			b.Fatal("images differ")
		}
		i += 2
	}
	m.report(b, p.insns)
}
