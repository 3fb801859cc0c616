package diff_test

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/diff"
	refelf "github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// goldenDir is one directory of canon's golden inputs: its executables
// and the objects they were linked from.
type goldenDir struct {
	name string
	exes map[string][]byte
	objs []*obj.Object
}

// goldenDirs reads oracle/canon's golden inputs (see its TestGolden).
func goldenDirs(t testing.TB) []goldenDir {
	f, err := os.Open("../canon/testdata/golden/inputs.tar.gz")
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	files := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if h.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			require.NoError(t, err)
			files[path.Clean(h.Name)] = data
		}
	}
	byDir := map[string]*goldenDir{}
	var names []string
	for p, data := range files {
		if path.Ext(p) != ".exe" {
			continue
		}
		d := byDir[path.Dir(p)]
		if d == nil {
			d = &goldenDir{name: path.Dir(p), exes: map[string][]byte{}}
			byDir[d.name] = d
			names = append(names, d.name)
		}
		d.exes[path.Base(p)] = data
	}
	sort.Strings(names)
	var out []goldenDir
	for _, n := range names {
		d := byDir[n]
		var objPaths []string
		for p := range files {
			if path.Ext(p) == ".o" && (path.Dir(p) == n || strings.HasPrefix(path.Dir(p), n+"/")) {
				objPaths = append(objPaths, p)
			}
		}
		sort.Strings(objPaths)
		// Objects of the directory itself, as TestGolden pairs them.
		for _, p := range objPaths {
			if path.Dir(p) != n {
				continue
			}
			o, err := refelf.ReadObject(p, files[p])
			require.NoError(t, err, p)
			d.objs = append(d.objs, o)
		}
		out = append(out, *d)
	}
	require.NotEmpty(t, out)
	return out
}

// requireSameReport compares a and b as images from canon.Read and as
// images from canon.Open (both lazy, and each side alone), and requires
// the same report every way.
func requireSameReport(t testing.TB, name string, a, b []byte, objs []*obj.Object, opts diff.Options) {
	t.Helper()
	ra, erra := canon.Read(a, objs)
	rb, errb := canon.Read(b, objs)
	la, errla := canon.Open(a, objs)
	lb, errlb := canon.Open(b, objs)
	require.Equal(t, erra == nil, errla == nil, "%s: Read and Open disagree on A", name)
	require.Equal(t, errb == nil, errlb == nil, "%s: Read and Open disagree on B", name)
	if erra != nil || errb != nil {
		require.Equal(t, errString(erra), errString(errla))
		require.Equal(t, errString(errb), errString(errlb))
		return
	}
	want := diff.Compare(ra, rb, opts)
	wantJSON, err := want.JSON()
	require.NoError(t, err)
	for _, c := range []struct {
		how  string
		a, b *canon.Image
	}{{"open", la, lb}, {"open-a", la, rb}, {"open-b", ra, lb}} {
		got := diff.Compare(c.a, c.b, opts)
		require.Equal(t, want.Text(), got.Text(), "%s (%s)", name, c.how)
		gotJSON, err := got.JSON()
		require.NoError(t, err)
		require.Equal(t, string(wantJSON), string(gotJSON), "%s (%s)", name, c.how)
	}
}

// TestOpenCompareSameReport: comparing images from canon.Open (decoded
// function by function, in chunks by several workers) gives exactly the
// report of comparing images from canon.Read, for every pair of golden
// executables of a directory (lld against the reference linker, versions
// of an incremental sequence, clang's flag sets), with and without
// objects, and for corruptions of each against the original.
func TestOpenCompareSameReport(t *testing.T) {
	old := *diff.ChunkPairs
	*diff.ChunkPairs = 3 // several chunks even for small images
	defer func() { *diff.ChunkPairs = old }()
	cache := canon.NewDecodeCache(0)
	rng := rand.New(rand.NewPCG(11, 12))
	compared := 0
	for _, d := range goldenDirs(t) {
		var names []string
		for n := range d.exes {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, x := range names {
			for _, y := range names {
				for _, objs := range [][]*obj.Object{d.objs, nil} {
					opts := diff.Options{NameA: x, NameB: y, Reproduce: "test"}
					if compared%2 == 1 {
						opts.Cache = cache
						opts.Ignore = []string{"padding", "synthetic-symbols"}
					}
					requireSameReport(t, d.name+"/"+x+" vs "+y, d.exes[x], d.exes[y], objs, opts)
					compared++
				}
			}
			// Corruptions: a few bytes changed anywhere in the file.
			exe := d.exes[x]
			for i := 0; i < 3; i++ {
				bad := append([]byte(nil), exe...)
				for j := 0; j <= i; j++ {
					bad[rng.IntN(len(bad))] = byte(rng.UintN(256))
				}
				requireSameReport(t, d.name+"/"+x+" corrupt", exe, bad, d.objs, diff.Options{})
				requireSameReport(t, d.name+"/"+x+" corrupt rev", bad, exe, nil, diff.Options{Cache: cache})
				compared += 2
			}
		}
	}
	hits, misses := cache.Stats()
	require.Greater(t, hits, 0)
	require.Greater(t, misses, 0)
	t.Logf("%d comparisons the same; cache %d hits, %d misses", compared, hits, misses)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestCacheUsedByWorkers: with many symbols (several workers), the cache
// in Options is used, and a second comparison of the same images finds
// every function in it, with the same report.
func TestCacheUsedByWorkers(t *testing.T) {
	old := *diff.ChunkPairs
	*diff.ChunkPairs = 2
	defer func() { *diff.ChunkPairs = old }()
	for _, d := range goldenDirs(t) {
		lld, ref := d.exes["lld.exe"], d.exes["ref.exe"]
		if lld == nil || ref == nil || len(d.objs) == 0 {
			continue
		}
		a, err := canon.Open(lld, d.objs)
		require.NoError(t, err)
		b, err := canon.Open(ref, d.objs)
		require.NoError(t, err)
		cache := canon.NewDecodeCache(0)
		first := diff.Compare(a, b, diff.Options{Cache: cache})
		_, misses := cache.Stats()
		require.Greater(t, misses, 0, d.name)
		second := diff.Compare(a, b, diff.Options{Cache: cache})
		hits, misses2 := cache.Stats()
		require.Equal(t, misses, misses2, "%s: the second comparison decoded again", d.name)
		require.GreaterOrEqual(t, hits, misses, d.name)
		require.Equal(t, first.Text(), second.Text(), d.name)
		return
	}
	t.Fatal("no golden directory with lld.exe, ref.exe and objects")
}

// FuzzOpenCompare corrupts a golden executable at the positions and with
// the bytes the input gives and requires that Open and Read agree on it
// (the same error, or the same report against the original, with and
// without objects) and that nothing panics.
func FuzzOpenCompare(f *testing.F) {
	dirs := goldenDirs(f)
	var exes [][]byte
	var objs [][]*obj.Object
	for _, d := range dirs {
		for _, n := range []string{"lld.exe", "ref.exe"} {
			if e := d.exes[n]; e != nil {
				exes, objs = append(exes, e), append(objs, d.objs)
			}
		}
	}
	f.Add(uint16(0), []byte{0, 0, 0})
	f.Add(uint16(3), []byte{0x10, 0x20, 0xcc, 0x40, 0x00, 0x90})
	f.Add(uint16(7), []byte{0xff, 0xff, 0xe8, 0x01, 0x02, 0x0f})
	f.Fuzz(func(t *testing.T, which uint16, edits []byte) {
		k := int(which) % len(exes)
		exe := append([]byte(nil), exes[k]...)
		// Each 3 bytes: a position (2 bytes, scaled to the file) and a value.
		for i := 0; i+3 <= len(edits) && i < 3*64; i += 3 {
			pos := (int(edits[i])<<8 | int(edits[i+1])) * len(exe) / 65536
			exe[pos] = edits[i+2]
		}
		requireSameReport(t, "fuzz", exes[k], exe, objs[k], diff.Options{})
		requireSameReport(t, "fuzz bare", exe, exes[k], nil, diff.Options{})
	})
}
