package canon

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	refelf "github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// The golden check: the canonical images of fixed executables — ld.lld
// and reference links of canon's assembly, of corpus/programs and
// generated programs in 1 and 2 units, incremental outputs, and clang's
// corpus/c under five flag sets (testdata/golden/inputs.tar.gz, made by
// build.sh) — and of deterministic corruptions of some of them must not
// change. testdata/golden/manifest.txt holds a digest of each image's text
// and JSON, or of the error; -golden.update rewrites it (record it with
// the code before a change, then compare after) and -golden.out=DIR
// writes the texts, to see what changed.

var (
	goldenUpdate = flag.Bool("golden.update", false, "rewrite testdata/golden/manifest.txt")
	goldenOut    = flag.String("golden.out", "", "write the image texts of the golden check to this directory")
)

const (
	goldenInputs   = "testdata/golden/inputs.tar.gz"
	goldenManifest = "testdata/golden/manifest.txt"
)

// goldenMutated are the executables whose corruptions are checked.
var goldenMutated = []string{
	"asm/lld.exe", "asm/lld-emit.exe", "asm/lld-norelax.exe", "c-switch-f3/lld.exe",
	"c-tables-f5/ref.exe", "incr1-trampoline/v2.exe", "errors_one-u2/ref.exe",
}

// goldenGroup is one line of the manifest: one read, or a group of reads
// of corruptions of one executable, under one digest.
type goldenGroup struct {
	name  string
	reads []goldenRead
}

type goldenRead struct {
	exe  []byte
	objs []*obj.Object
}

// goldenResult renders what read returns for one input: the error, or
// the image's text and JSON.
func goldenResult(read func([]byte, []*obj.Object) (*Image, error), in goldenRead) string {
	im, err := read(in.exe, in.objs)
	if err != nil {
		return "error: " + err.Error() + "\n"
	}
	b, err := json.Marshal(im)
	if err != nil {
		return "json error: " + err.Error() + "\n"
	}
	return im.Text() + "\n" + string(b) + "\n"
}

func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:10])
}

// readGoldenInputs returns the files of inputs.tar.gz by path.
func readGoldenInputs(t *testing.T) map[string][]byte {
	f, err := os.Open(goldenInputs)
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
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		files[path.Clean(h.Name)] = data
	}
	return files
}

// goldenGroups lists every executable of the inputs read with its objects
// (the .o files in the directory named like it, or beside it) and
// without, and the corruptions of goldenMutated.
func goldenGroups(t *testing.T) []goldenGroup {
	files := readGoldenInputs(t)
	var exes []string
	objsIn := map[string][]string{}
	for p := range files {
		switch path.Ext(p) {
		case ".exe":
			exes = append(exes, p)
		case ".o":
			objsIn[path.Dir(p)] = append(objsIn[path.Dir(p)], p)
		}
	}
	sort.Strings(exes)
	require.NotEmpty(t, exes)
	var groups []goldenGroup
	for _, p := range exes {
		dir := strings.TrimSuffix(p, ".exe")
		if objsIn[dir] == nil {
			dir = path.Dir(p)
		}
		paths := objsIn[dir]
		sort.Strings(paths)
		var objs []*obj.Object
		for _, op := range paths {
			o, err := refelf.ReadObject(op, files[op])
			require.NoError(t, err, op)
			objs = append(objs, o)
		}
		exe := files[p]
		groups = append(groups, goldenGroup{p + " bare", []goldenRead{{exe, nil}}})
		if len(objs) > 0 {
			groups = append(groups, goldenGroup{p + " objs", []goldenRead{{exe, objs}}})
		}
		for _, m := range goldenMutated {
			if m == p {
				groups = append(groups, mutations(t, p, exe, objs)...)
			}
		}
	}
	return groups
}

// mutations returns deterministic corruptions of exe, each read with and
// without the objects: truncations, and byte changes anywhere, in the ELF
// header, the section headers and the symbol, string and relocation
// tables.
func mutations(t *testing.T, name string, exe []byte, objs []*obj.Object) []goldenGroup {
	f, err := elf.NewFile(bytes.NewReader(exe))
	require.NoError(t, err)
	type region struct {
		name      string
		off, size uint64
	}
	shsize := uint64(len(f.Sections)) * 64
	regions := []region{{"file", 0, uint64(len(exe))}, {"ehdr", 0, 64}, {"shdrs", uint64(len(exe)) - shsize, shsize}}
	for _, s := range f.Sections {
		if (s.Type == elf.SHT_SYMTAB || s.Type == elf.SHT_RELA || s.Name == ".strtab") && s.Size > 0 {
			regions = append(regions, region{s.Name, s.Offset, s.Size})
		}
	}
	both := func(b []byte) []goldenRead {
		reads := []goldenRead{{b, nil}}
		if len(objs) > 0 {
			reads = append(reads, goldenRead{b, objs})
		}
		return reads
	}
	trunc := goldenGroup{name: name + " truncated"}
	for k := 1; k < 16; k++ {
		trunc.reads = append(trunc.reads, both(exe[:len(exe)*k/16])...)
	}
	groups := []goldenGroup{trunc}
	rng := rand.New(rand.NewPCG(uint64(len(exe)), 7))
	for _, r := range regions {
		g := goldenGroup{name: name + " corrupt " + r.name}
		for i := 0; i < 40; i++ {
			b := append([]byte(nil), exe...)
			for j := 0; j <= i%3; j++ {
				b[r.off+rng.Uint64N(r.size)] = byte(rng.UintN(256))
			}
			g.reads = append(g.reads, both(b)...)
		}
		groups = append(groups, g)
	}
	return groups
}

// TestGolden compares the images of the golden inputs with the manifest,
// and Read with ReadELF on each.
func TestGolden(t *testing.T) {
	groups := goldenGroups(t)
	got := map[string]string{}
	reads := 0
	for _, g := range groups {
		reads += len(g.reads)
		var all strings.Builder
		for _, in := range g.reads {
			text := goldenResult(ReadELF, in)
			if bytes.HasPrefix(in.exe, []byte("\x7fELF")) {
				require.Equal(t, text, goldenResult(Read, in), "%s: Read and ReadELF differ", g.name)
			}
			all.WriteString(text)
		}
		got[g.name] = digest(all.String())
		if *goldenOut != "" {
			p := filepath.Join(*goldenOut, strings.ReplaceAll(g.name, " ", "/")+".txt")
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, []byte(all.String()), 0o644))
		}
	}
	if *goldenUpdate {
		var b strings.Builder
		for _, g := range groups {
			fmt.Fprintf(&b, "%s %s\n", got[g.name], g.name)
		}
		require.NoError(t, os.WriteFile(goldenManifest, []byte(b.String()), 0o644))
		return
	}
	mf, err := os.Open(goldenManifest)
	require.NoError(t, err)
	defer mf.Close()
	want := map[string]string{}
	sc := bufio.NewScanner(mf)
	for sc.Scan() {
		dig, name, ok := strings.Cut(sc.Text(), " ")
		require.True(t, ok, sc.Text())
		want[name] = dig
	}
	require.NoError(t, sc.Err())
	var changed []string
	for _, g := range groups {
		if got[g.name] != want[g.name] {
			changed = append(changed, g.name)
		}
	}
	require.Empty(t, changed, "canonical images changed (compare with -golden.out=DIR before and after)")
	require.Len(t, got, len(want), "the set of golden inputs changed")
	t.Logf("%d reads in %d groups equal", reads, len(groups))
}
