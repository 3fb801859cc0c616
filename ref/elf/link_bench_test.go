package elf

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/link"
)

// BenchmarkLinkELF links the synthetic workload of docs/link.md (funcs
// functions, each calling the next, plus one data pointer per function,
// over funcs/1000 objects) from obj.Objects in memory to a byte slice.
func BenchmarkLinkELF(b *testing.B) {
	for _, funcs := range []int{1000, 10000, 100000} {
		b.Run("funcs="+strconv.Itoa(funcs), func(b *testing.B) {
			objs, err := link.SyntheticObjects(funcs, max(1, funcs/1000))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := Link(objs, link.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(funcs), "ns/func")
		})
	}
}

// TestBenchLinkSmoke runs BenchLink once on a small size against ld.lld,
// checks that both outputs agree in layout, and logs the figures (speed is
// not asserted: see BenchmarkLinkELF and docs/link.md).
func TestBenchLinkSmoke(t *testing.T) {
	tools.Require(t, "ld.lld")
	dir := t.TempDir()
	funcs := []int{2000}
	if s := os.Getenv("LINKCHECK_BENCH_FUNCS"); s != "" {
		funcs = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(f)
			require.NoError(t, err)
			funcs = append(funcs, n)
		}
	}
	other := func(ctx context.Context, objs []string, out string) (time.Duration, int64, error) {
		res, err := lld.Link(ctx, lld.ELF, objs, out, lld.Options{})
		if err != nil {
			return 0, 0, err
		}
		return res.Duration, res.MaxRSSKB, nil
	}
	results, err := BenchLink(context.Background(), BenchConfig{Funcs: funcs, Runs: 1, Dir: dir, Other: other})
	require.NoError(t, err)
	require.Len(t, results, len(funcs))
	for _, r := range results {
		t.Log(r)
		require.Positive(t, r.RefPeakKB)
		require.Positive(t, r.OtherPeakKB)
	}
	compareWithLLD(t, filepath.Join(dir, "ref-"+strconv.Itoa(funcs[0])+".out"), filepath.Join(dir, "other-"+strconv.Itoa(funcs[0])+".out"), true)
}

// BenchmarkLinkFilesELF links the synthetic workload from object files on
// disk (ReadObjectFiles, then Link), as BenchLink measures the reference
// linker, without writing the output.
func BenchmarkLinkFilesELF(b *testing.B) {
	for _, funcs := range []int{1000, 10000, 100000} {
		b.Run("funcs="+strconv.Itoa(funcs), func(b *testing.B) {
			paths, err := writeSynthetic(b.TempDir(), funcs, max(1, funcs/1000))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := LinkFiles(paths, link.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(funcs), "ns/func")
		})
	}
}

// BenchmarkReadObject decodes one object of the synthetic workload (1000
// functions, 2000 sections, 3000 relocation-bearing symbols).
func BenchmarkReadObject(b *testing.B) {
	objs, err := link.SyntheticObjects(100000, 100)
	if err != nil {
		b.Fatal(err)
	}
	data, err := WriteObject(objs[1])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ReadObject("synth1.o", data); err != nil {
			b.Fatal(err)
		}
	}
}
