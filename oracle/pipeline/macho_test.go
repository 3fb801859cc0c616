package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/diff"
	oexec "github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/macho"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// machoCheck is what every Mach-O test output goes through: the
// reference link of objPaths diffs clean against ld64.lld's (pointers from
// the input objects' relocations, and again from each file's own rebase
// opcodes), the two files are byte for byte the same but for LC_UUID, the
// reference output runs under unicorn to want, and LLVM's tools read its
// rebase opcodes and symbol table as the linker laid them out.
func machoCheck(t *testing.T, runner *oexec.Runner, objPaths []string, dir string, want uint64, minCoverage float64) {
	t.Helper()
	res, err := DiffLLD(context.Background(), obj.MachO, objPaths, dir, diff.Options{})
	require.NoError(t, err)
	require.True(t, res.Report.Equal(), "%s", res.Report.Text())
	require.Greater(t, res.Report.Coverage.Ratio(), minCoverage, "a vacuous diff: %s", res.Report.Text())

	lldExe, err := os.ReadFile(res.LLDExe)
	require.NoError(t, err)
	refExe, err := os.ReadFile(res.RefExe)
	require.NoError(t, err)
	a, err := canon.Read(lldExe, nil)
	require.NoError(t, err)
	b, err := canon.Read(refExe, nil)
	require.NoError(t, err)
	require.Equal(t, canon.PointersFromRebase, b.PointerSource)
	rep := diff.Compare(a, b, diff.Options{NameA: "lld", NameB: "ref"})
	require.True(t, rep.Equal(), "pointers from the rebase opcodes: %s", rep.Text())

	requireSameButUUID(t, lldExe, refExe)

	got, err := runner.Run(context.Background(), res.RefExe, oexec.Options{Mode: oexec.Unicorn})
	require.NoError(t, err)
	require.True(t, got.Matches(want), "ref executable computed %s, the interpreter says %d", got, want)

	layout, err := LinkRef(obj.MachO, objPaths, filepath.Join(dir, "ref2.out"))
	require.NoError(t, err)
	requireLLVMReads(t, res.RefExe, layout)
}

// machoUUID returns the offset of LC_UUID's 16 bytes in a Mach-O file, or
// -1.
func machoUUID(t *testing.T, f []byte) int {
	t.Helper()
	require.GreaterOrEqual(t, len(f), 32)
	le := binary.LittleEndian
	n := int(le.Uint32(f[16:]))
	off := 32
	for i := 0; i < n && off+8 <= len(f); i++ {
		cmd, size := le.Uint32(f[off:]), int(le.Uint32(f[off+4:]))
		if cmd == 0x1b {
			return off + 8
		}
		require.Greater(t, size, 0)
		off += size
	}
	return -1
}

// requireSameButUUID checks that two Mach-O files are byte for byte equal
// but for LC_UUID (ld64.lld's hashes the file in chunks that depend on its
// thread count, and the output file's name).
func requireSameButUUID(t *testing.T, lld, ref []byte) {
	t.Helper()
	a, b := bytes.Clone(lld), bytes.Clone(ref)
	ua, ub := machoUUID(t, a), machoUUID(t, b)
	require.Equal(t, ua, ub, "LC_UUID at different offsets")
	require.GreaterOrEqual(t, ua, 0, "no LC_UUID")
	clear(a[ua : ua+16])
	clear(b[ub : ub+16])
	if bytes.Equal(a, b) {
		return
	}
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	t.Fatalf("ld64.lld's file (%d bytes) and ref's (%d bytes) differ first at offset %#x: % x vs % x",
		len(a), len(b), i, a[i:min(i+16, len(a))], b[i:min(i+16, len(b))])
}

// requireLLVMReads checks the executable against LLVM's readers:
// llvm-objdump's rebase table lists exactly the layout's pointer sites
// (data pointers and GOT slots), and llvm-nm lists every symbol the
// layout defines at its address.
func requireLLVMReads(t *testing.T, exe string, l *link.Layout) {
	t.Helper()
	objdump := tools.Require(t, "llvm-objdump")
	nm := tools.Require(t, "llvm-nm")
	out, err := exec.Command(objdump.Path, "--macho", "--rebase", "--bind", exe).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NotContains(t, string(out), "warning")
	var rebases []uint64
	inRebase := false
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Rebase table:"):
			inRebase = true
		case strings.HasPrefix(line, "Bind table:"):
			inRebase = false
			continue
		case inRebase && len(f) == 4 && f[3] == "pointer":
			v, err := strconv.ParseUint(strings.TrimPrefix(f[2], "0x"), 16, 64)
			require.NoError(t, err, line)
			rebases = append(rebases, v)
		case !inRebase && len(f) > 0 && strings.HasPrefix(f[0], "__"):
			t.Fatalf("a bind entry in a static executable: %s", line)
		}
	}
	want := append([]uint64{}, l.PointerSites...)
	if want == nil {
		want = []uint64{}
	}
	if rebases == nil {
		rebases = []uint64{}
	}
	require.Equal(t, want, rebases, "llvm-objdump's rebase table")

	out, err = exec.Command(nm.Path, "-p", "--defined-only", exe).CombinedOutput()
	require.NoError(t, err, "%s", out)
	nmSyms := map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		require.Len(t, f, 3, line)
		v, err := strconv.ParseUint(f[0], 16, 64)
		require.NoError(t, err, line)
		nmSyms[strings.TrimPrefix(f[2], "_")] = v
	}
	require.Equal(t, uint64(macho.ExeImageBase), nmSyms["_mh_execute_header"])
	for i := range l.Symbols {
		s := &l.Symbols[i]
		if !s.Defined() || s.Kind == obj.SymSection || strings.HasPrefix(s.Name, ".L") {
			continue
		}
		v, ok := nmSyms[s.Name]
		require.True(t, ok, "llvm-nm does not list %s", s.Name)
		if s.Bind != obj.Local {
			require.Equal(t, s.Addr, v, "llvm-nm's address of %s", s.Name)
		}
	}
}

// TestRefMachOAgainstLLD is issue 13's proof for the full link: every
// corpus program and 500 generated ones (40 with -short), split into 1 to 4
// units, linked by the reference Mach-O linker, run under unicorn to the
// interpreter's value, and diff clean against ld64.lld with no ignore rule
// (coverage above 99%); the files are the same but for LC_UUID. Locals are
// shadowed by globals of other units (obj.ShadowLocals).
func TestRefMachOAgainstLLD(t *testing.T) {
	tools.Require(t, "ld64.lld")
	tools.Require(t, "libunicorn")
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
			objs, err := BuildDirWith(p.m, obj.MachO, units, filepath.Join(dir, "obj"), target.CompileOptions{Rewrite: Disguise(int64(i), &shadowed)})
			require.NoError(t, err)
			t.Log(obj.RewriteNote(shadowed))
			machoCheck(t, runner, objs, dir, want, 0.99)
		})
	}
}

// machoAsmCase is one directory of corpus/asm/macho: its sources and the
// value its program computes (a "# expect: N" line in a source).
type machoAsmCase struct {
	name string
	srcs []string
	want uint64
}

func machoAsmCases(t *testing.T) []machoAsmCase {
	dirs, err := filepath.Glob("../../corpus/asm/macho/*")
	require.NoError(t, err)
	sort.Strings(dirs)
	var cases []machoAsmCase
	for _, d := range dirs {
		srcs, err := filepath.Glob(filepath.Join(d, "*.s"))
		require.NoError(t, err)
		if len(srcs) == 0 {
			continue
		}
		sort.Strings(srcs)
		c := machoAsmCase{name: filepath.Base(d), srcs: srcs}
		found := false
		for _, s := range srcs {
			b, err := os.ReadFile(s)
			require.NoError(t, err)
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), "# expect:"); ok {
					c.want, err = strconv.ParseUint(strings.TrimSpace(v), 10, 64)
					require.NoError(t, err, "%s: %s", s, line)
					found = true
				}
			}
		}
		require.True(t, found, "%s: no '# expect: N' line", d)
		cases = append(cases, c)
	}
	return cases
}

// assembleMachO assembles srcs with llvm-mc for x86_64-apple-macos11 into
// dir and returns the objects' paths.
func assembleMachO(t *testing.T, srcs []string, dir string) []string {
	t.Helper()
	mc := tools.Require(t, "llvm-mc")
	var objs []string
	for _, s := range srcs {
		o := filepath.Join(dir, strings.TrimSuffix(filepath.Base(s), ".s")+".o")
		out, err := exec.Command(mc.Path, "-filetype=obj", "-triple=x86_64-apple-macos11", "-o", o, s).CombinedOutput()
		require.NoError(t, err, "%s", out)
		objs = append(objs, o)
	}
	return objs
}

// TestMachOAsmCorpus links the hand-written llvm-mc objects of
// corpus/asm/macho (cross-object calls, GOT loads and calls through the
// GOT, a function-pointer table, C strings merged across objects, local
// symbols) with the reference linker: each runs to its value and diffs
// clean against ld64.lld, file identical but for LC_UUID.
func TestMachOAsmCorpus(t *testing.T) {
	tools.Require(t, "ld64.lld")
	tools.Require(t, "libunicorn")
	cases := machoAsmCases(t)
	require.GreaterOrEqual(t, len(cases), 4)
	runner := oexec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			work := t.TempDir()
			objs := assembleMachO(t, c.srcs, work)
			machoCheck(t, runner, objs, work, c.want, 0.9)
		})
	}
}

// TestMachOFaults plants each Mach-O seeded defect in the reference link
// of a program with data pointers and checks that the judge made for it
// reports it: a pointer left out of the rebase opcodes by the diff of the
// images read from the files' own rebase information (and by the
// comparison with ld64.lld's file), a wrong entry offset by unicorn and
// by the diff's entry.
func TestMachOFaults(t *testing.T) {
	tools.Require(t, "ld64.lld")
	tools.Require(t, "libunicorn")
	m, err := Load("../../corpus/programs/data_pointers.lir")
	require.NoError(t, err)
	want, err := Expected(m)
	require.NoError(t, err)
	dir := t.TempDir()
	objPaths, err := BuildDir(m, obj.MachO, 2, filepath.Join(dir, "obj"))
	require.NoError(t, err)
	lldExe := filepath.Join(dir, "lld.out")
	_, err = LinkLLD(context.Background(), obj.MachO, objPaths, lldExe)
	require.NoError(t, err)
	lldData, err := os.ReadFile(lldExe)
	require.NoError(t, err)
	objs, err := link.ReadObjectFiles(objPaths, macho.ReadObject)
	require.NoError(t, err)
	runner := oexec.NewRunner()
	t.Cleanup(func() { runner.Close() })

	for _, tc := range []struct {
		f     fault.Fault
		check func(t *testing.T, exe []byte, path string)
	}{
		{fault.MachOMissingRebase, func(t *testing.T, exe []byte, path string) {
			a, err := canon.Read(lldData, nil)
			require.NoError(t, err)
			b, err := canon.Read(exe, nil)
			require.NoError(t, err)
			rep := diff.Compare(a, b, diff.Options{})
			require.NotEmpty(t, rep.Find("data.pointer"), "%s", rep.Text())
			got, err := runner.Run(context.Background(), path, oexec.Options{Mode: oexec.Unicorn})
			require.NoError(t, err)
			require.True(t, got.Matches(want), "the defect keeps the value at the preferred address")
		}},
		{fault.MachOEntryOffset, func(t *testing.T, exe []byte, path string) {
			got, err := runner.Run(context.Background(), path, oexec.Options{Mode: oexec.Unicorn})
			require.True(t, err != nil || !got.Matches(want), "unicorn ran the broken entry to the right value")
			a, err := canon.Read(lldData, objs)
			require.NoError(t, err)
			b, err := canon.Read(exe, objs)
			require.NoError(t, err)
			rep := diff.Compare(a, b, diff.Options{})
			require.False(t, rep.Equal(), "the diff misses the entry")
		}},
	} {
		t.Run(tc.f.String(), func(t *testing.T) {
			require.Equal(t, "macho", tc.f.Scope())
			clean, _, err := link.Link(objs, macho.Exe{}, link.Options{})
			require.NoError(t, err)
			requireSameButUUID(t, lldData, clean)
			exe, _, err := link.Link(objs, macho.Exe{Faults: fault.Of(tc.f)}, link.Options{Faults: fault.Of(tc.f)})
			require.NoError(t, err)
			require.NotEqual(t, clean, exe)
			path := filepath.Join(t.TempDir(), "ref.out")
			require.NoError(t, os.WriteFile(path, exe, 0o755))
			tc.check(t, exe, path)
		})
	}
}

// machoCFlagSets are the clang flag sets corpus/c is compiled under for
// Mach-O (macOS code is always position-independent).
var machoCFlagSets = []string{"-O0", "-O1", "-O2", "-Os"}

// TestMachOCCorpus links clang's Mach-O objects of corpus/c (jump tables,
// relative lookup tables of strings, literal pools, function-pointer
// tables, same-named statics in two files, large zerofill) under every flag
// set with both linkers: no difference, full coverage, nothing canon could
// not name, and the files the same but for LC_UUID, data-in-code entries
// (clang's jump tables) included. (The programs make Linux system
// calls: they are not run.)
func TestMachOCCorpus(t *testing.T) {
	tools.Require(t, "ld64.lld")
	cc := tools.Require(t, "clang")
	dirs, err := filepath.Glob("../../corpus/c/*")
	require.NoError(t, err)
	sort.Strings(dirs)
	programs := 0
	for _, d := range dirs {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			continue
		}
		if filepath.Base(d) == "tls" {
			// ELF's TLS models (__thread through %fs, an ELF static
			// archive): Mach-O thread-local variables are TLV
			// descriptors, which neither the code nor the reference
			// Mach-O linker has.
			continue
		}
		programs++
		for _, flags := range machoCFlagSets {
			t.Run(filepath.Base(d)+"/"+flags, func(t *testing.T) {
				work := t.TempDir()
				srcs, err := filepath.Glob(filepath.Join(d, "*.c"))
				require.NoError(t, err)
				sort.Strings(srcs)
				var objs []string
				for _, src := range srcs {
					o := filepath.Join(work, strings.TrimSuffix(filepath.Base(src), ".c")+".o")
					args := []string{"--target=x86_64-apple-macos11", "-ffreestanding", "-fno-stack-protector",
						"-fno-asynchronous-unwind-tables", "-fno-common", flags, "-c", src, "-o", o}
					out, err := exec.Command(cc.Path, args...).CombinedOutput()
					require.NoError(t, err, "clang %s: %s", strings.Join(args, " "), out)
					objs = append(objs, o)
				}
				res, err := DiffLLD(context.Background(), obj.MachO, objs, work, diff.Options{})
				require.NoError(t, err)
				require.True(t, res.Report.Equal(), "%s", res.Report.Text())
				require.Equal(t, 1.0, res.Report.Coverage.Ratio(), "%s", res.Report.Text())
				for _, exe := range []string{res.LLDExe, res.RefExe} {
					im, err := readImage(exe, res.Objects)
					require.NoError(t, err)
					for _, n := range im.Notes {
						// A Mach-O symbol table names no source files: the
						// two files' static counter are told apart by order.
						require.Contains(t, n, "duplicate symbol name counter", "%s: everything is named", filepath.Base(exe))
					}
				}
				lldExe, err := os.ReadFile(res.LLDExe)
				require.NoError(t, err)
				refExe, err := os.ReadFile(res.RefExe)
				require.NoError(t, err)
				requireSameButUUID(t, lldExe, refExe)
			})
		}
	}
	require.GreaterOrEqual(t, programs, 4)
}

// TestRefMachOCallsViaGOT links programs compiled with every call through
// a GOT slot (the got policy's code: X86_64_RELOC_GOT calls next to
// relaxable GOT_LOAD address loads of the same functions) — 100 generated
// ones (20 with -short) and the corpus: ld64.lld's GOT order and its
// per-symbol relaxation rule, byte for byte.
func TestRefMachOCallsViaGOT(t *testing.T) {
	tools.Require(t, "ld64.lld")
	tools.Require(t, "libunicorn")
	n := 100
	if testing.Short() {
		n = 20
	}
	progs := append(corpusPrograms(t), generatedPrograms(n, 0)...)
	runner := oexec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	for i, p := range progs {
		units := 1 + i%3
		t.Run(fmt.Sprintf("%s/units=%d", p.name, units), func(t *testing.T) {
			t.Parallel()
			want, err := Expected(p.m)
			require.NoError(t, err)
			dir := t.TempDir()
			names, files, err := ObjectsWith(p.m, obj.MachO, units, target.CompileOptions{CallsViaGOT: true})
			require.NoError(t, err)
			objs, err := WriteFiles(filepath.Join(dir, "obj"), names, files)
			require.NoError(t, err)
			machoCheck(t, runner, objs, dir, want, 0.99)
		})
	}
}
