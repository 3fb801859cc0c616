package pipeline

import (
	"bytes"
	"context"
	stdelf "debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/diff"
	oexec "github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/codegen"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// TestRefELFAgainstLLD is issue 6's proof: for every corpus program and 500
// generated ones, split into 1 to 4 units, the reference ELF linker's
// executable runs natively to the interpreter's value, and its canonical
// image equals ld.lld's, with no ignore rule at all; its loaded bytes are
// ld.lld's (SameLoadedELF). In every unit that can have one, a local
// function is renamed to a global of another unit (obj.ShadowLocals), and
// both executables still compute the interpreter's value.
func TestRefELFAgainstLLD(t *testing.T) {
	tools.Require(t, "ld.lld")
	n := 500
	if testing.Short() {
		n = 40
	}
	progs := append(corpusPrograms(t), generatedPrograms(n, 0)...)
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
			objs, err := BuildDirWith(p.m, obj.ELF, units, filepath.Join(dir, "obj"), target.CompileOptions{Rewrite: Disguise(int64(i), &shadowed)})
			require.NoError(t, err)
			note := obj.RewriteNote(shadowed)
			res, err := DiffLLD(context.Background(), obj.ELF, objs, dir, diff.Options{})
			require.NoError(t, err, note)
			require.True(t, res.Report.Equal(), "%s\n%s", note, res.Report.Text())
			require.Greater(t, res.Report.Coverage.Ratio(), 0.99, "a vacuous diff: %s", res.Report.Text())
			lldData, err := os.ReadFile(res.LLDExe)
			require.NoError(t, err)
			refData, err := os.ReadFile(res.RefExe)
			require.NoError(t, err)
			require.NoError(t, SameLoadedELF(lldData, refData), note)
			for _, exe := range []string{res.RefExe, res.LLDExe} {
				got, err := runner.Run(context.Background(), exe, oexec.Options{Mode: oexec.Native})
				require.NoError(t, err)
				require.True(t, got.Matches(want), "%s computed %s, the interpreter says %d; %s", filepath.Base(exe), got, want, note)
			}
		})
	}
}

// TestAsmCorpusDiff links the hand-written assembly of corpus/asm (the
// programs that link) with both linkers: no difference, and the reference
// output runs.
func TestAsmCorpusDiff(t *testing.T) {
	mc := tools.Require(t, "llvm-mc")
	tools.Require(t, "ld.lld")
	dirs, err := filepath.Glob("../../corpus/asm/*")
	require.NoError(t, err)
	sort.Strings(dirs)
	linked := 0
	for _, d := range dirs {
		st, err := os.Stat(d)
		if err != nil || !st.IsDir() || strings.HasPrefix(filepath.Base(d), "err_") {
			continue
		}
		if srcs, _ := filepath.Glob(filepath.Join(d, "*.s")); len(srcs) == 0 {
			continue // another format's corpus (corpus/asm/coff: TestCOFFAsmCorpus)
		}
		linked++
		t.Run(filepath.Base(d), func(t *testing.T) {
			srcs, err := filepath.Glob(filepath.Join(d, "*.s"))
			require.NoError(t, err)
			sort.Strings(srcs)
			work := t.TempDir()
			var objs []string
			for _, s := range srcs {
				o := filepath.Join(work, strings.TrimSuffix(filepath.Base(s), ".s")+".o")
				out, err := exec.Command(mc.Path, "-filetype=obj", "-triple=x86_64-unknown-linux-gnu", "-o", o, s).CombinedOutput()
				require.NoError(t, err, "%s", out)
				objs = append(objs, o)
			}
			res, err := DiffLLD(context.Background(), obj.ELF, objs, work, diff.Options{})
			require.NoError(t, err)
			require.True(t, res.Report.Equal(), "%s", res.Report.Text())
			require.Greater(t, res.Report.Coverage.Ratio(), 0.9, "%s", res.Report.Text())
			// The reference output runs like lld's: same exit status and output.
			refOut, refErr := exec.Command(res.RefExe).Output()
			lldOut, lldErr := exec.Command(res.LLDExe).Output()
			require.Equal(t, exitCode(lldErr), exitCode(refErr))
			require.Equal(t, lldOut, refOut)
		})
	}
	require.Greater(t, linked, 3)
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// TestDiffCatchesBrokenRefOutput breaks the reference output on purpose —
// a call retargeted to another function — and checks that the diff reports
// it under text.operand with both sides.
func TestDiffCatchesBrokenRefOutput(t *testing.T) {
	tools.Require(t, "ld.lld")
	m, err := ir.Parse("p.lir", []byte(`
func a(x) { return x + 1 }
func b(x) { return x + 2 }
func main() { return a(1) + b(2) }
`))
	require.NoError(t, err)
	dir := t.TempDir()
	objs, err := BuildDir(m, obj.ELF, 2, filepath.Join(dir, "obj"))
	require.NoError(t, err)
	res, err := DiffLLD(context.Background(), obj.ELF, objs, dir, diff.Options{})
	require.NoError(t, err)
	require.True(t, res.Report.Equal(), "%s", res.Report.Text())
	// Retarget main's call to a so that it calls b: find both symbols and
	// rewrite the first call rel32 in main.
	layout, err := LinkRef(obj.ELF, objs, res.RefExe)
	require.NoError(t, err)
	addr := func(name string) uint64 {
		i, ok := layout.Globals[name]
		require.True(t, ok, name)
		return layout.Symbols[i].Addr
	}
	data, err := os.ReadFile(res.RefExe)
	require.NoError(t, err)
	off := func(va uint64) int {
		for _, s := range layout.Sections {
			if va >= s.Addr && va < s.Addr+s.Size {
				return int(s.Offset + va - s.Addr)
			}
		}
		t.Fatalf("address %#x not in a section", va)
		return 0
	}
	mainOff := off(addr("main"))
	patched := false
	for i := mainOff; i < mainOff+200 && !patched; i++ {
		if data[i] != 0xe8 {
			continue
		}
		disp := int32(uint32(data[i+1]) | uint32(data[i+2])<<8 | uint32(data[i+3])<<16 | uint32(data[i+4])<<24)
		callVA := addr("main") + uint64(i-mainOff)
		if callVA+5+uint64(int64(disp)) == addr("a") {
			nd := uint32(int64(addr("b")) - int64(callVA+5))
			data[i+1], data[i+2], data[i+3], data[i+4] = byte(nd), byte(nd>>8), byte(nd>>16), byte(nd>>24)
			patched = true
		}
	}
	require.True(t, patched, "no call to a in main")
	require.NoError(t, os.WriteFile(res.RefExe, data, 0o755))
	lldImg, err := readImage(res.LLDExe, res.Objects)
	require.NoError(t, err)
	refImg, err := readImage(res.RefExe, res.Objects)
	require.NoError(t, err)
	rep := diff.Compare(lldImg, refImg, diff.Options{})
	ds := rep.Find("text.operand")
	require.Len(t, ds, 1, "%s", rep.Text())
	require.Equal(t, "main", ds[0].Symbol)
	require.Contains(t, ds[0].A, "call a")
	require.Contains(t, ds[0].B, "call b")
}

// brokenRef links a program with the reference linker and hands the test
// the executable's bytes and layout to break.
type brokenRef struct {
	t      *testing.T
	res    *DiffResult
	layout *link.Layout
	data   []byte
}

func newBrokenRef(t *testing.T, src string, callsViaGOT bool) *brokenRef {
	t.Helper()
	tools.Require(t, "ld.lld")
	m, err := ir.Parse("p.lir", []byte(src))
	require.NoError(t, err)
	dir := t.TempDir()
	p, err := codegen.CompileWith(m, obj.ELF, codegen.Options{CallsViaGOT: callsViaGOT})
	require.NoError(t, err)
	objPath, _ := writeOneObject(t, obj.ELF, m, p, dir)
	res, err := DiffLLD(context.Background(), obj.ELF, []string{objPath}, dir, diff.Options{})
	require.NoError(t, err)
	require.True(t, res.Report.Equal(), "before breaking: %s", res.Report.Text())
	layout, err := LinkRef(obj.ELF, []string{objPath}, res.RefExe)
	require.NoError(t, err)
	data, err := os.ReadFile(res.RefExe)
	require.NoError(t, err)
	return &brokenRef{t: t, res: res, layout: layout, data: data}
}

// writeOneObject writes the compiled program p of m as one object of
// format in dir and returns its path and the neutral objects.
func writeOneObject(t *testing.T, format obj.Format, m *ir.Module, p *obj.Program, dir string) (string, []*obj.Object) {
	t.Helper()
	tg := target.MustLookup(format)
	objs, err := obj.Objects(p, ir.Partition(m, 1), 1, tg.UnitName)
	require.NoError(t, err)
	b, err := tg.WriteObject(objs[0])
	require.NoError(t, err)
	path := filepath.Join(dir, tg.UnitName(0))
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path, objs
}

// requireIncrMatchesLLD is the end of a long incremental sequence: lld
// links the final version m (compiled for policy) from one object, the
// incremental output out equals lld's output with no ignore rule and
// coverage above 99%, and the reference full link diffs clean against
// lld too. It returns the incremental output's report against lld.
func requireIncrMatchesLLD(t *testing.T, ctx context.Context, format obj.Format, m *ir.Module, policy incr.Policy, out, dir string) *diff.Report {
	t.Helper()
	p, err := CompileIncr(m, format, policy, 0)
	require.NoError(t, err)
	objPath, objs := writeOneObject(t, format, m, p, dir)
	lldExe := filepath.Join(dir, "lld-"+target.MustLookup(format).ExeName)
	_, err = LinkLLD(ctx, format, []string{objPath}, lldExe)
	require.NoError(t, err)
	lldImg, err := readImage(lldExe, objs)
	require.NoError(t, err)
	incrImg, err := readImage(out, objs)
	require.NoError(t, err)
	rep := diff.Compare(lldImg, incrImg, diff.Options{NameA: "lld", NameB: "incr"})
	require.True(t, rep.Equal(), "%s", rep.Text())
	require.Greater(t, rep.Coverage.Ratio(), 0.99, "%s", rep.Text())

	dr, err := DiffLLD(ctx, format, []string{objPath}, dir, diff.Options{})
	require.NoError(t, err)
	require.True(t, dr.Report.Equal(), "%s", dr.Report.Text())
	return rep
}

func (b *brokenRef) sym(name string) *link.Symbol {
	i := b.layout.Lookup(name)
	require.GreaterOrEqual(b.t, i, int32(0), name)
	return &b.layout.Symbols[i]
}

func (b *brokenRef) off(va uint64) int {
	for _, s := range b.layout.Sections {
		if va >= s.Addr && va < s.Addr+s.Size {
			return int(s.Offset + va - s.Addr)
		}
	}
	b.t.Fatalf("address %#x is in no section", va)
	return 0
}

// compare writes the broken bytes back and diffs them against lld's link.
func (b *brokenRef) compare() *diff.Report {
	require.NoError(b.t, os.WriteFile(b.res.RefExe, b.data, 0o755))
	lldImg, err := readImage(b.res.LLDExe, b.res.Objects)
	require.NoError(b.t, err)
	refImg, err := readImage(b.res.RefExe, b.res.Objects)
	require.NoError(b.t, err)
	return diff.Compare(lldImg, refImg, diff.Options{})
}

func TestDiffCatchesBrokenRefData(t *testing.T) {
	const src = `func f(x) { return x + 1 }
func g(x) { return x + 2 }
global table = &f
func main() { return call (load table)(1) + g(2) }
`
	t.Run("data pointer off by 8", func(t *testing.T) {
		b := newBrokenRef(t, src, false)
		o := b.off(b.sym("table").Addr)
		binary.LittleEndian.PutUint64(b.data[o:], binary.LittleEndian.Uint64(b.data[o:])+8)
		ds := b.compare().Find("data.pointer")
		require.Len(t, ds, 1)
		require.Equal(t, "table", ds[0].Symbol)
		require.Equal(t, "abs64 &f", ds[0].A)
		require.Equal(t, "abs64 &f+0x8", ds[0].B)
	})
	t.Run("GOT slot pointing at the wrong symbol", func(t *testing.T) {
		b := newBrokenRef(t, src, true) // calls through kept GOT slots
		slot := b.sym("g").GOTSlot
		require.GreaterOrEqual(t, slot, int32(0), "g has a GOT slot")
		o := b.off(b.layout.SlotAddr(slot))
		binary.LittleEndian.PutUint64(b.data[o:], b.sym("f").Addr)
		rep := b.compare()
		ds := rep.Find("text.operand")
		require.NotEmpty(t, ds, "%s", rep.Text())
		require.Equal(t, "main", ds[0].Symbol)
		require.Contains(t, ds[0].A, "call g")
		require.Contains(t, ds[0].B, "call f")
	})
	t.Run("missing symbol", func(t *testing.T) {
		b := newBrokenRef(t, src, false)
		f, err := stdelf.NewFile(bytes.NewReader(b.data))
		require.NoError(t, err)
		strtab := f.Section(".strtab")
		require.NotNil(t, strtab)
		raw, err := strtab.Data()
		require.NoError(t, err)
		i := bytes.Index(raw, []byte("\x00g\x00"))
		require.GreaterOrEqual(t, i, 0)
		b.data[int(strtab.Offset)+i+1] = 'z' // g becomes z
		rep := b.compare()
		missing := rep.Find("symbol.missing")
		require.Len(t, missing, 1, "%s", rep.Text())
		require.Equal(t, "g", missing[0].Symbol)
		extra := rep.Find("symbol.extra")
		require.Len(t, extra, 1)
		require.Equal(t, "z", extra[0].Symbol)
	})
}
