package pipeline

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/diff"
	oexec "github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/coff"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// TestRefCOFFAgainstLLD is issue 14's proof for the full link: for every
// corpus program and generated ones, split into 1 to 4 units, the
// reference PE linker's image runs under unicorn (the corpus also under
// wine, and 20 generated ones) to the interpreter's value, and its
// canonical image equals
// lld-link's, with no ignore rule, coverage above 99%. Locals are shadowed
// by globals of other units (obj.ShadowLocals).
func TestRefCOFFAgainstLLD(t *testing.T) {
	tools.Require(t, "lld-link")
	tools.Require(t, "libunicorn")
	n, wineSample := 300, 20
	if testing.Short() {
		n, wineSample = 40, 0
	}
	progs := append(corpusPrograms(t), generatedPrograms(n, wineSample)...)
	wine := haveTool("wine64")
	runner := oexec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	for i, p := range progs {
		units := 1 + i%4
		t.Run(fmt.Sprintf("%s/units=%d", p.name, units), func(t *testing.T) {
			t.Parallel()
			want, err := Expected(p.m)
			require.NoError(t, err)
			dir := t.TempDir()
			// A local of one unit renamed to a global of another
			// (obj.ShadowLocals): both linkers must keep them apart.
			var shadowed []string
			objs, err := BuildDirWith(p.m, obj.COFF, units, filepath.Join(dir, "obj"), target.CompileOptions{Rewrite: Disguise(int64(i), &shadowed)})
			require.NoError(t, err)
			note := obj.RewriteNote(shadowed)
			res, err := DiffLLD(context.Background(), obj.COFF, objs, dir, diff.Options{})
			require.NoError(t, err, note)
			require.True(t, res.Report.Equal(), "%s\n%s", note, res.Report.Text())
			require.Greater(t, res.Report.Coverage.Ratio(), 0.99, "a vacuous diff: %s", res.Report.Text())
			modes := []oexec.Mode{oexec.Unicorn}
			if p.wine && wine {
				modes = append(modes, oexec.Wine)
			}
			for _, m := range modes {
				got, err := runner.Run(context.Background(), res.RefExe, oexec.Options{Mode: m})
				require.NoError(t, err, "%s", m)
				require.True(t, got.Matches(want), "ref image computed %s, the interpreter says %d", got, want)
			}
		})
	}
}

// TestRefCOFFMatchesLLDLayout links the corpus (1 to 4 units) and
// generated programs with lld-link (/timestamp:0, so that the one field
// that depends on the clock is fixed) and with the reference linker:
// llvm-readobj's headers, section table, base relocations and symbols
// agree field by field, the files are byte-identical, and llvm-objdump -d
// -p reads the reference image without a warning.
func TestRefCOFFMatchesLLDLayout(t *testing.T) {
	tools.Require(t, "lld-link")
	readobj := tools.Require(t, "llvm-readobj")
	objdump := tools.Require(t, "llvm-objdump")
	progs := append(corpusPrograms(t), generatedPrograms(24, 0)...)
	for i, p := range progs {
		for _, units := range []int{1 + i%4, 4 - i%4} {
			t.Run(fmt.Sprintf("%s/units=%d", p.name, units), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				objs, err := BuildDir(p.m, obj.COFF, units, filepath.Join(dir, "obj"))
				require.NoError(t, err)
				lldExe, refExe := filepath.Join(dir, "lld.exe"), filepath.Join(dir, "ref.exe")
				_, err = lld.Link(context.Background(), obj.COFF, objs, lldExe, lld.Options{Extra: []string{"/timestamp:0"}})
				require.NoError(t, err)
				_, err = LinkRef(obj.COFF, objs, refExe)
				require.NoError(t, err)
				dump := func(path string) string {
					out, err := exec.Command(readobj.Path, "--file-headers", "--sections", "--coff-basereloc", "--symbols", path).CombinedOutput()
					require.NoError(t, err, "%s", out)
					require.NotContains(t, strings.ToLower(string(out)), "warning")
					return strings.Replace(string(out), path, "EXE", 1)
				}
				require.Equal(t, dump(lldExe), dump(refExe))
				out, err := exec.Command(objdump.Path, "-d", "-p", refExe).CombinedOutput()
				require.NoError(t, err, "%s", out)
				require.NotContains(t, strings.ToLower(string(out)), "warning")
				a, err := os.ReadFile(lldExe)
				require.NoError(t, err)
				b, err := os.ReadFile(refExe)
				require.NoError(t, err)
				require.True(t, string(a) == string(b), "the headers agree but the bytes differ")
			})
		}
	}
}

// asmExpect reads the `expect: N` of a corpus/asm/coff program's main.s.
var asmExpect = regexp.MustCompile(`expect: (\d+)`)

// assembleCOFF assembles every .s file of dir (in name order) for
// x86_64-pc-windows-msvc.
func assembleCOFF(t *testing.T, dir, work string) ([]string, uint64) {
	mc := tools.Require(t, "llvm-mc")
	srcs, err := filepath.Glob(filepath.Join(dir, "*.s"))
	require.NoError(t, err)
	sort.Strings(srcs)
	require.NotEmpty(t, srcs)
	var objs []string
	var want uint64
	for _, s := range srcs {
		src, err := os.ReadFile(s)
		require.NoError(t, err)
		if m := asmExpect.FindSubmatch(src); m != nil {
			want, err = strconv.ParseUint(string(m[1]), 10, 64)
			require.NoError(t, err)
		}
		o := filepath.Join(work, strings.TrimSuffix(filepath.Base(s), ".s")+".obj")
		out, err := exec.Command(mc.Path, "-filetype=obj", "-triple=x86_64-pc-windows-msvc", "-o", o, s).CombinedOutput()
		require.NoError(t, err, "%s", out)
		objs = append(objs, o)
	}
	return objs, want
}

// TestCOFFAsmCorpus links the hand-written assembly of corpus/asm/coff
// with both linkers: no difference, and the reference output runs to the
// value main.s states under unicorn and wine, as lld-link's does.
func TestCOFFAsmCorpus(t *testing.T) {
	tools.Require(t, "lld-link")
	tools.Require(t, "libunicorn")
	dirs, err := filepath.Glob("../../corpus/asm/coff/*")
	require.NoError(t, err)
	runner := oexec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	n := 0
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			continue
		}
		n++
		t.Run(filepath.Base(d), func(t *testing.T) {
			work := t.TempDir()
			objs, want := assembleCOFF(t, d, work)
			require.NotZero(t, want, "main.s states no expect: value")
			res, err := DiffLLD(context.Background(), obj.COFF, objs, work, diff.Options{})
			require.NoError(t, err)
			require.True(t, res.Report.Equal(), "%s", res.Report.Text())
			require.Greater(t, res.Report.Coverage.Ratio(), 0.99, "%s", res.Report.Text())
			modes := []oexec.Mode{oexec.Unicorn}
			if haveTool("wine64") {
				modes = append(modes, oexec.Wine)
			}
			for _, exe := range []string{res.RefExe, res.LLDExe} {
				for _, m := range modes {
					got, err := runner.Run(context.Background(), exe, oexec.Options{Mode: m})
					require.NoError(t, err, "%s under %s", exe, m)
					require.True(t, got.Matches(want), "%s under %s computed %s, main.s says %d", exe, m, got, want)
				}
			}
		})
	}
	require.GreaterOrEqual(t, n, 4)
}

// TestCOFFFaultsCaught plants the PE writer's seeded defects and checks
// that the check meant for each reports it: a missing base relocation
// shows in the canonical diff when pointers come from the image's own
// base relocations (and in llvm-readobj's list), a zeroed .refptr cell in
// the canonical diff (text.operand) and under unicorn, a stale SizeOfImage
// makes the loaders refuse the image.
func TestCOFFFaultsCaught(t *testing.T) {
	tools.Require(t, "lld-link")
	tools.Require(t, "libunicorn")
	p := corpusProgram(t, "data_pointers.lir")
	dir := t.TempDir()
	objPaths, err := BuildDir(p.m, obj.COFF, 2, filepath.Join(dir, "obj"))
	require.NoError(t, err)
	objs, err := link.ReadObjectFiles(objPaths, coff.ReadObject)
	require.NoError(t, err)
	lldExe := filepath.Join(dir, "lld.exe")
	_, err = LinkLLD(context.Background(), obj.COFF, objPaths, lldExe)
	require.NoError(t, err)
	lldData, err := os.ReadFile(lldExe)
	require.NoError(t, err)
	lldOwn, err := canon.Read(lldData, nil)
	require.NoError(t, err)
	require.Equal(t, canon.PointersFromBaseRelocs, lldOwn.PointerSource)
	want, err := Expected(p.m)
	require.NoError(t, err)
	runner := oexec.NewRunner()
	t.Cleanup(func() { runner.Close() })

	linkWith := func(t *testing.T, fs fault.Set) string {
		image, _, err := link.Link(objs, coff.Exe{Faults: fs}, link.Options{})
		require.NoError(t, err)
		path := filepath.Join(t.TempDir(), "ref.exe")
		require.NoError(t, os.WriteFile(path, image, 0o755))
		return path
	}
	t.Run("clean", func(t *testing.T) {
		path := linkWith(t, 0)
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		own, err := canon.Read(data, nil)
		require.NoError(t, err)
		rep := diff.Compare(lldOwn, own, diff.Options{NameA: "lld", NameB: "ref"})
		require.True(t, rep.Equal(), "%s", rep.Text())
		got, err := runner.Run(context.Background(), path, oexec.Options{Mode: oexec.Unicorn})
		require.NoError(t, err)
		require.True(t, got.Matches(want))
	})
	t.Run(fault.PEMissingBaseReloc.String(), func(t *testing.T) {
		path := linkWith(t, fault.Of(fault.PEMissingBaseReloc))
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		own, err := canon.Read(data, nil)
		require.NoError(t, err)
		rep := diff.Compare(lldOwn, own, diff.Options{NameA: "lld", NameB: "ref"})
		require.False(t, rep.Equal())
		require.Contains(t, rep.Text(), diff.KeyDataPointer)
		// llvm-readobj lists one DIR64 entry fewer than in lld-link's image.
		readobj := tools.Require(t, "llvm-readobj")
		count := func(exe string) int {
			out, err := exec.Command(readobj.Path, "--coff-basereloc", exe).CombinedOutput()
			require.NoError(t, err, "%s", out)
			return strings.Count(string(out), "Type: DIR64")
		}
		require.Equal(t, count(lldExe)-1, count(path))
		// The value stays right: the loaders map the image at its base.
		got, err := runner.Run(context.Background(), path, oexec.Options{Mode: oexec.Unicorn})
		require.NoError(t, err)
		require.True(t, got.Matches(want))
	})
	t.Run(fault.PEStaleCell.String(), func(t *testing.T) {
		path := linkWith(t, fault.Of(fault.PEStaleCell))
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		im, err := canon.Read(data, objs)
		require.NoError(t, err)
		lldIm, err := canon.Read(lldData, objs)
		require.NoError(t, err)
		rep := diff.Compare(lldIm, im, diff.Options{NameA: "lld", NameB: "ref"})
		require.Contains(t, rep.Text(), diff.KeyTextOperand)
		got, err := runner.Run(context.Background(), path, oexec.Options{Mode: oexec.Unicorn})
		require.False(t, err == nil && got.Matches(want), "a zero cell went unnoticed: %v", got)
	})
	t.Run(fault.PEStaleSizeOfImage.String(), func(t *testing.T) {
		path := linkWith(t, fault.Of(fault.PEStaleSizeOfImage))
		_, err := runner.Run(context.Background(), path, oexec.Options{Mode: oexec.Unicorn})
		require.ErrorContains(t, err, "SizeOfImage")
		if haveTool("wine64") {
			got, err := runner.Run(context.Background(), path, oexec.Options{Mode: oexec.Wine})
			require.False(t, err == nil && got.Matches(want), "wine ran an image whose SizeOfImage misses its last section: %v", got)
		}
	})
}

// corpusProgram returns one corpus program by file name.
func corpusProgram(t *testing.T, name string) program {
	for _, p := range corpusPrograms(t) {
		if p.name == name {
			return p
		}
	}
	t.Fatalf("no corpus program %s", name)
	return program{}
}

// haveTool reports whether an optional oracle is installed.
func haveTool(name string) bool {
	_, err := tools.Find(name)
	return err == nil
}
