package bench

import (
	"context"
	"math/rand"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// BenchmarkUpdate times one-function updates through incr.Output.UpdateAtoms
// on a generated program of 100,000 functions (10,000 with -short), for
// every format with an incremental linker: in place (ir.GrowFunc by one
// byte) and with a move (grown past its slot), each on a different random
// function. Editing and compiling the function are outside the timed
// region. `linkcheck bench update` compares the same figures with full
// links (see docs/benchmarks.md).
func BenchmarkUpdate(b *testing.B) {
	funcs := 100000
	if testing.Short() {
		funcs = 10000
	}
	for _, t := range target.All() {
		if t.Need(target.CanIncr) != nil {
			continue
		}
		for _, policy := range []incr.Policy{incr.Trampoline, incr.ThroughGOT} {
			m := ir.Generate(ir.GenConfig{Seed: 1, Funcs: funcs})
			opts := target.CompileOptions{CallsViaGOT: policy == incr.ThroughGOT}
			prog, err := t.Compile(m, opts)
			if err != nil {
				b.Fatal(err)
			}
			out, err := incr.Create(filepath.Join(b.TempDir(), "out"), t.Image, prog, "", incr.Options{Policy: policy})
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewSource(1))
			for _, move := range []bool{false, true} {
				name := "inplace"
				if move {
					name = "move"
				}
				b.Run(string(t.Format)+"/"+string(policy)+"/"+name+"/funcs="+strconv.Itoa(funcs), func(b *testing.B) {
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
						a, err := t.CompileFunc(next, f.Name, opts)
						if err != nil {
							b.Fatal(err)
						}
						m = next
						b.StartTimer()
						if _, err := out.UpdateAtoms([]*obj.Atom{a}, nil); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			out.Close()
		}
	}
}

// TestBenchUpdateSmoke runs BenchUpdate once on a small program for every
// format with an incremental linker (speed is not asserted).
func TestBenchUpdateSmoke(t *testing.T) {
	for _, tg := range target.All() {
		if tg.Need(target.CanIncr) != nil {
			continue
		}
		t.Run(string(tg.Format), func(t *testing.T) {
			tool, err := lld.Tool(tg.Format)
			require.NoError(t, err)
			tools.Require(t, tool)
			r, err := BenchUpdate(context.Background(), UpdateBenchConfig{Format: tg.Format, Funcs: 200, Runs: 3, Dir: t.TempDir(), Other: lldLinker(tg.Format)})
			require.NoError(t, err)
			t.Logf("in place %v, move %v, ref full %v, lld full %v", r.InPlace, r.Move, r.RefFull, r.OtherFull)
			require.Positive(t, r.InPlace)
			require.Positive(t, r.Move)
			require.Positive(t, r.OtherFull)
		})
	}
}

// TestCompileFuncMatchesCompile: the target's one-function compile, which
// BenchUpdate and compiler-server-style sessions use, makes the atom the
// whole-program compile makes.
func TestCompileFuncMatchesCompile(t *testing.T) {
	m := ir.Generate(ir.GenConfig{Seed: 3, Funcs: 20})
	for _, tg := range target.All() {
		if tg.Need(target.CanCompile) != nil || tg.CompileFunc == nil {
			continue
		}
		for _, via := range []bool{false, true} {
			if via && tg.Format == obj.Wasm {
				continue // calls by index: no got policy
			}
			opts := target.CompileOptions{CallsViaGOT: via}
			p, err := tg.Compile(m, opts)
			require.NoError(t, err)
			for _, f := range m.Funcs {
				a, err := tg.CompileFunc(m, f.Name, opts)
				require.NoError(t, err)
				require.Equal(t, p.Atom(f.Name), a, "%s %s", tg.Format, f.Name)
			}
		}
	}
}

// TestBenchCheckSmoke runs BenchCheck on a few sequences of every format
// with an incremental linker and checks that the figures are consistent
// (speed is not asserted).
func TestBenchCheckSmoke(t *testing.T) {
	tools.Require(t, "llvm-readobj")
	for _, f := range []obj.Format{obj.ELF, obj.MachO, obj.COFF, obj.Wasm} {
		t.Run(string(f), func(t *testing.T) {
			linker, err := lld.Tool(f)
			require.NoError(t, err)
			tools.Require(t, linker)
			if f == obj.Wasm {
				tools.Require(t, "wasm-validate")
				tools.Require(t, "wasm-objdump")
			} else if f != obj.ELF {
				tools.Require(t, "libunicorn")
				tools.Require(t, "llvm-objdump")
			}
			r, err := BenchCheck(context.Background(), CheckConfig{Format: f, Funcs: 20, Updates: 30, SeqLen: 10, LLVMEvery: 2, Dir: t.TempDir(), Other: lldLinker(f)})
			require.NoError(t, err)
			t.Log(r.Line())
			require.Equal(t, 30, r.Updates)
			require.Equal(t, 3, r.Sequences)
			require.Positive(t, r.PerSecond)
			require.Positive(t, r.OtherCPU)
			require.Regexp(t, `^\d+ checked updates/s, \d+\.\d checked updates per lld link$`, r.Line())
			require.Equal(t, 3*(10/4+1), r.Full, "full checks: every 4th update and the last, per sequence")
		})
	}
}

// BenchmarkCheckLoop is the fuzz loop's checked updates (40-function
// programs, sequences of 20 random edits, the fuzz tier mix): ns/op is one
// checked update.
func BenchmarkCheckLoop(b *testing.B) {
	defer pipeline.LoopGC()() // as the fuzz targets' workers and bench check run the loop
	defer pipeline.LoopProcs()()
	dir := b.TempDir()
	b.ResetTimer()
	var total int
	for b.Loop() {
		if _, err := BenchCheck(context.Background(), CheckConfig{Funcs: 40, Updates: 20, Dir: dir}); err != nil {
			b.Fatal(err)
		}
		total += 20
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "updates/s")
}
