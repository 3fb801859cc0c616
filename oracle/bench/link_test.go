package bench

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// linkable lists the targets with a reference linker.
func linkable() []*target.Target {
	var ts []*target.Target
	for _, t := range target.All() {
		if t.Need(target.CanLink) == nil && t.Need(target.CanRead) == nil && t.Need(target.CanWriteObj) == nil {
			ts = append(ts, t)
		}
	}
	return ts
}

// BenchmarkLink links the synthetic workload of docs/benchmarks.md (funcs
// functions, each calling the next, plus one data pointer per function,
// over funcs/1000 objects) from objects in memory to a byte slice, for
// every format with a reference linker.
func BenchmarkLink(b *testing.B) {
	for _, t := range linkable() {
		for _, funcs := range []int{1000, 10000, 100000} {
			b.Run(string(t.Format)+"/funcs="+strconv.Itoa(funcs), func(b *testing.B) {
				objs, err := SyntheticObjects(funcs, max(1, funcs/1000))
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, _, err := link.Link(objs, t.Platform, link.Options{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(funcs), "ns/func")
			})
		}
	}
}

// BenchmarkLinkFiles links the synthetic workload from object files on
// disk (link.LinkFiles: read, resolving symbols beside the readers, then
// link), as BenchLink measures the reference linker, without writing the
// output file.
func BenchmarkLinkFiles(b *testing.B) {
	for _, t := range linkable() {
		for _, funcs := range []int{1000, 10000, 100000} {
			b.Run(string(t.Format)+"/funcs="+strconv.Itoa(funcs), func(b *testing.B) {
				paths, err := writeSynthetic(t, b.TempDir(), funcs, max(1, funcs/1000))
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, _, err := link.LinkFiles(paths, t.ReadObject, t.Platform, link.Options{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(funcs), "ns/func")
			})
		}
	}
}

// BenchmarkReadObject decodes one object of the synthetic workload (1000
// functions, 2000 sections, 3000 relocation-bearing symbols) with every
// format's reader.
func BenchmarkReadObject(b *testing.B) {
	objs, err := SyntheticObjects(100000, 100)
	if err != nil {
		b.Fatal(err)
	}
	for _, t := range target.All() {
		if t.Need(target.CanRead) != nil || t.Need(target.CanWriteObj) != nil {
			continue
		}
		b.Run(string(t.Format), func(b *testing.B) {
			data, err := t.WriteObject(objs[1])
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := t.ReadObject("synth1"+t.ObjectExt, data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// lldLinker is an ExternalLinker for the lld of format f.
func lldLinker(f obj.Format) ExternalLinker {
	return func(ctx context.Context, objs []string, out string) (time.Duration, int64, error) {
		res, err := lld.Link(ctx, f, objs, out, lld.Options{MeasurePeak: true})
		if err != nil {
			return 0, 0, err
		}
		return res.Duration, res.MaxRSSKB, nil
	}
}

// TestBenchLinkSmoke runs BenchLink once on a small size against lld for
// every format with a reference linker, checks that the two outputs have
// equal canonical images, and logs the figures (speed is not asserted: see
// BenchmarkLink and docs/benchmarks.md).
func TestBenchLinkSmoke(t *testing.T) {
	funcs := []int{2000}
	if s := os.Getenv("LINKCHECK_BENCH_FUNCS"); s != "" {
		funcs = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			require.NoError(t, err)
			funcs = append(funcs, n)
		}
	}
	for _, tg := range linkable() {
		t.Run(string(tg.Format), func(t *testing.T) {
			tool, err := lld.Tool(tg.Format)
			require.NoError(t, err)
			tools.Require(t, tool)
			dir := t.TempDir()
			results, err := BenchLink(context.Background(), BenchConfig{Format: tg.Format, Funcs: funcs, Runs: 1, Dir: dir, Other: lldLinker(tg.Format)})
			require.NoError(t, err)
			require.Len(t, results, len(funcs))
			for _, r := range results {
				t.Log(r)
				require.Positive(t, r.RefPeakKB)
				require.Positive(t, r.OtherPeakKB)
			}
			objs, err := SyntheticObjects(funcs[0], max(1, funcs[0]/1000))
			require.NoError(t, err)
			read := func(name string) *canon.Image {
				data, err := os.ReadFile(filepath.Join(dir, name+"-"+strconv.Itoa(funcs[0])+".out"))
				require.NoError(t, err)
				im, err := canon.Read(data, objs)
				require.NoError(t, err)
				return im
			}
			rep := diff.Compare(read("other"), read("ref"), diff.Options{NameA: "lld", NameB: "ref"})
			require.True(t, rep.Equal(), rep.Text())
		})
	}
}

// TestBenchLinkWasm: bench link for Wasm links a generated program
// compiled by ref/wasmgen with the reference Wasm linker and wasm-ld, and
// the two outputs are the same bytes.
func TestBenchLinkWasm(t *testing.T) {
	tools.Require(t, "wasm-ld")
	dir := t.TempDir()
	results, err := BenchLink(context.Background(), BenchConfig{Format: obj.Wasm, Funcs: []int{500}, Runs: 1, Dir: dir, Other: lldLinker(obj.Wasm)})
	require.NoError(t, err)
	require.Len(t, results, 1)
	t.Log(results[0])
	a, err := os.ReadFile(filepath.Join(dir, "ref-500.out"))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "other-500.out"))
	require.NoError(t, err)
	require.Equal(t, b, a, "ref/wasm and wasm-ld link the workload alike")
}
