package elf

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// lldPrefix is what ld.lld puts before an error message.
var lldPrefix = regexp.MustCompile(`^ld\.lld(-[0-9]+)?: error: `)

// corpusDir is corpus/asm, relative to this package.
const corpusDir = "../../corpus/asm"

// assembleCorpus assembles every .s file of corpus/asm/name into dir and returns
// the object paths in file-name order.
func assembleCorpus(t *testing.T, dir, name string) []string {
	t.Helper()
	mc := tools.Require(t, "llvm-mc")
	srcs, err := filepath.Glob(filepath.Join(corpusDir, name, "*.s"))
	require.NoError(t, err)
	require.NotEmpty(t, srcs, "no sources in %s", name)
	sort.Strings(srcs)
	var objs []string
	for _, s := range srcs {
		o := filepath.Join(dir, strings.TrimSuffix(filepath.Base(s), ".s")+".o")
		out, err := exec.Command(mc.Path, "-filetype=obj", "-triple=x86_64-unknown-linux-gnu", s, "-o", o).CombinedOutput()
		require.NoError(t, err, "llvm-mc %s: %s", s, out)
		objs = append(objs, o)
	}
	return objs
}

// compileC compiles C sources (name → text) into dir as the brief's
// freestanding objects and returns their paths in name order.
func compileC(t *testing.T, dir string, srcs map[string]string) []string {
	t.Helper()
	cc := tools.Require(t, "clang")
	var names []string
	for n := range srcs {
		names = append(names, n)
	}
	sort.Strings(names)
	var objs []string
	for _, n := range names {
		c := filepath.Join(dir, n)
		require.NoError(t, os.WriteFile(c, []byte(srcs[n]), 0o644))
		o := strings.TrimSuffix(c, ".c") + ".o"
		out, err := exec.Command(cc.Path, "--target=x86_64-unknown-linux-gnu", "-O1", "-fno-pic", "-fno-asynchronous-unwind-tables",
			"-ffreestanding", "-fno-stack-protector", "-c", c, "-o", o).CombinedOutput()
		require.NoError(t, err, "clang %s: %s", c, out)
		objs = append(objs, o)
	}
	return objs
}

// readObjects reads objects named by their base names, so that messages
// do not depend on the temporary directory.
func readObjects(t *testing.T, paths []string) []*obj.Object {
	t.Helper()
	var objs []*obj.Object
	for _, p := range paths {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		o, err := ReadObject(filepath.Base(p), data)
		require.NoError(t, err)
		objs = append(objs, o)
	}
	return objs
}

// runResult is what a native run observed.
type runResult struct {
	status int
	stdout []byte
}

func runNative(t *testing.T, path string) runResult {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("native runs need linux/amd64")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path)
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		require.NoError(t, err, "run %s", path)
	}
	require.NotNil(t, cmd.ProcessState)
	ws := cmd.ProcessState.ExitCode()
	require.GreaterOrEqual(t, ws, 0, "%s died: %v", path, cmd.ProcessState)
	return runResult{status: ws, stdout: out.Bytes()}
}

// checkLLVMReads runs llvm-readobj --all and llvm-objdump -d on path and
// requires that they succeed without a warning.
func checkLLVMReads(t *testing.T, path string) {
	t.Helper()
	for _, tool := range []struct {
		name string
		args []string
	}{{"llvm-readobj", []string{"--all"}}, {"llvm-objdump", []string{"-d"}}} {
		tl := tools.Require(t, tool.name)
		var stderr bytes.Buffer
		cmd := exec.Command(tl.Path, append(tool.args, path)...)
		cmd.Stderr = &stderr
		stdout, err := cmd.Output()
		require.NoError(t, err, "%s: %s", tool.name, stderr.String())
		require.Empty(t, stderr.String(), "%s wrote to stderr", tool.name)
		require.NotContains(t, strings.ToLower(string(stdout)), "warning", "%s output", tool.name)
	}
}

// linkBoth links objs with the reference linker and with ld.lld and
// returns both executables' paths.
func linkBoth(t *testing.T, dir string, objs []string) (ref, ld string, l *link.Layout) {
	t.Helper()
	tools.Require(t, "ld.lld")
	out, l, err := Link(readObjects(t, objs), link.Options{})
	require.NoError(t, err)
	ref = filepath.Join(dir, "ref.out")
	require.NoError(t, os.WriteFile(ref, out, 0o755))
	ld = filepath.Join(dir, "lld.out")
	_, err = lld.Link(context.Background(), obj.ELF, objs, ld, lld.Options{})
	require.NoError(t, err)
	return ref, ld, l
}

// sectionView is what the layout comparison looks at in a section header.
type sectionView struct {
	Name            string
	Type            elf.SectionType
	Flags           elf.SectionFlag
	Addr, Size, Off uint64
	Align           uint64
}

func readLayout(t *testing.T, path string) (*elf.File, []sectionView, map[string]uint64, []string) {
	t.Helper()
	f, err := elf.Open(path)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	var secs []sectionView
	for _, s := range f.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		secs = append(secs, sectionView{s.Name, s.Type, s.Flags &^ (elf.SHF_MERGE | elf.SHF_STRINGS), s.Addr, s.Size, s.Offset, s.Addralign})
	}
	syms, err := f.Symbols()
	require.NoError(t, err)
	addrs := make(map[string]uint64)
	var order []string
	for _, s := range syms {
		order = append(order, fmt.Sprintf("%v %v %s", elf.ST_BIND(s.Info), elf.ST_TYPE(s.Info), s.Name))
		if elf.ST_TYPE(s.Info) == elf.STT_FILE {
			continue // several files may share a name
		}
		addrs[s.Name] = s.Value
	}
	return f, secs, addrs, order
}

type progView struct {
	Type                             elf.ProgType
	Flags                            elf.ProgFlag
	Off, Vaddr, Filesz, Memsz, Align uint64
}

func progs(f *elf.File) []progView {
	var ps []progView
	for _, p := range f.Progs {
		ps = append(ps, progView{p.Type, p.Flags, p.Off, p.Vaddr, p.Filesz, p.Memsz, p.Align})
	}
	return ps
}

func TestLinkCorpus(t *testing.T) {
	cases := []struct {
		name   string
		status int
		// sameLayout: ld.lld gives every section and symbol the same
		// address; false where lld's order of merged strings (by hash)
		// differs.
		sameLayout bool
		// gotSlots and relaxed are the expected GOT decisions, the same
		// as ld.lld's.
		gotSlots, relaxed int
	}{
		{name: "calls", status: 42, sameLayout: true},
		{name: "gotload", status: 42, sameLayout: true, relaxed: 4},
		{name: "datapointers", status: 42, sameLayout: true, gotSlots: 1},
		{name: "bss_align", status: 42, sameLayout: true},
		{name: "strings", status: 42, sameLayout: true},
		{name: "weak", status: 42, sameLayout: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			objs := assembleCorpus(t, dir, tc.name)
			ref, ld, l := linkBoth(t, dir, objs)
			checkLLVMReads(t, ref)
			require.Equal(t, tc.status, runNative(t, ref).status, "ref exit status")
			require.Equal(t, tc.status, runNative(t, ld).status, "lld exit status")
			require.Len(t, l.GOT.Slots, tc.gotSlots)
			require.Equal(t, tc.relaxed, l.RelaxedGOTLoads)
			compareWithLLD(t, ref, ld, tc.sameLayout)
		})
	}
}

// compareWithLLD requires the same allocated sections in the same order
// (and, when exact, at the same addresses with the same symbol values and
// program headers) in both executables.
func compareWithLLD(t *testing.T, ref, ld string, exact bool) {
	t.Helper()
	rf, rsecs, rsyms, rorder := readLayout(t, ref)
	lf, lsecs, lsyms, lorder := readLayout(t, ld)
	names := func(v []sectionView) []string {
		var n []string
		for _, s := range v {
			n = append(n, s.Name)
		}
		return n
	}
	require.Equal(t, names(lsecs), names(rsecs), "section order")
	if !exact {
		return
	}
	require.Equal(t, lsecs, rsecs, "sections")
	require.Equal(t, lsyms, rsyms, "symbol values")
	require.Equal(t, lorder, rorder, "symbol table order, STT_FILE before each file's locals")
	require.Equal(t, progs(lf), progs(rf), "program headers")
	require.Equal(t, lf.Entry, rf.Entry, "entry")
}

// cSources are freestanding C programs: _start is naked and hands main's
// result to write(1, &v, 8); exit(0).
var cSources = map[string]string{
	"start.c": `
long cmain(void);
__attribute__((naked, noreturn)) void _start(void) {
	__asm__("call cmain\n"
		"push %rax\n"
		"mov $1, %eax\n mov $1, %edi\n mov %rsp, %rsi\n mov $8, %edx\n syscall\n"
		"mov $60, %eax\n xor %edi, %edi\n syscall\n ud2");
}
static long sq(long x) { return x * x; }
extern long g;
extern const char msg[];
long table_sum(void);
long bss_counter[4];
long cmain(void) {
	bss_counter[2] = 5;
	return sq(g) + table_sum() + msg[1] + bss_counter[2];
}
`,
	"table.c": `
long g = 5;
const char msg[] = "abc";
__attribute__((noinline)) long one(void) { return 1; }
__attribute__((noinline)) long two(void) { return 2; }
typedef long (*fn)(void);
fn tab[] = {one, two};
long table_sum(void) { long s = 0; for (int i = 0; i < 2; i++) s += tab[i](); return s; }
`,
}

func TestLinkClang(t *testing.T) {
	dir := t.TempDir()
	objs := compileC(t, dir, cSources)
	ref, ld, _ := linkBoth(t, dir, objs)
	checkLLVMReads(t, ref)
	want := make([]byte, 8)
	binary.LittleEndian.PutUint64(want, 25+3+'b'+5)
	r := runNative(t, ref)
	require.Equal(t, 0, r.status)
	require.Equal(t, want, r.stdout)
	r = runNative(t, ld)
	require.Equal(t, 0, r.status)
	require.Equal(t, want, r.stdout)
	compareWithLLD(t, ref, ld, true)
}

func TestLinkErrors(t *testing.T) {
	cases := []struct {
		name string
		want string
		// lldSame: ld.lld prints the same message (after "ld.lld: error: ").
		lldSame bool
	}{
		{"err_duplicate", "duplicate symbol: f\n>>> defined at a.o:(.text+0x5)\n>>> defined at b.o:(.text.f+0x1)", true},
		{"err_undefined", "undefined symbol: g\n>>> referenced by main.o:(.text+0x1)\n>>> referenced by main.o:(.text+0x6)\n>>> referenced by main.o:(.text+0xB)\n>>> referenced 1 more times", true},
		{"err_overflow", "main.o:(.text+0x1): relocation R_X86_64_32 out of range: 4297072989 is not in [0, 4294967295]; references target\n>>> defined in main.o", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			objs := assembleCorpus(t, dir, tc.name)
			_, _, err := Link(readObjects(t, objs), link.Options{})
			require.Error(t, err)
			require.Equal(t, tc.want, err.Error())
			tools.Require(t, "ld.lld")
			res, err := lld.Link(context.Background(), obj.ELF, objs, filepath.Join(dir, "lld.out"), lld.Options{})
			require.Error(t, err)
			msg := strings.ReplaceAll(res.Stderr, dir+"/", "")
			msg = lldPrefix.ReplaceAllString(strings.TrimSpace(msg), "")
			if tc.lldSame {
				require.Equal(t, tc.want, msg)
			}
		})
	}
}

func TestLinkErrorsInProcess(t *testing.T) {
	text := func(name string, data []byte, relocs ...obj.Reloc) *obj.Section {
		return &obj.Section{Name: name, Kind: obj.Text, Align: 1, Data: data, Size: uint64(len(data)), Relocs: relocs}
	}
	start := func() *obj.Object {
		return &obj.Object{Name: "s.o", Sections: []*obj.Section{text(".text", []byte{0xc3})},
			Symbols: []*obj.Symbol{{Name: "_start", Section: 0, Bind: obj.Global, Kind: obj.SymFunc}}}
	}
	cases := []struct {
		name string
		objs []*obj.Object
		want string
	}{
		{"no input", nil, "link: no input files"},
		{"weak and global", []*obj.Object{start(), {Name: "w.o", Sections: []*obj.Section{text(".text", []byte{0xc3})},
			Symbols: []*obj.Symbol{{Name: "_start", Section: 0, Bind: obj.Weak}}}}, ""},
		{"pcrel overflow", []*obj.Object{start(), {Name: "p.o",
			Sections: []*obj.Section{text(".text.p", []byte{0xe8, 0, 0, 0, 0}, obj.Reloc{Offset: 1, Kind: obj.Branch32, Sym: 0, Addend: -4})},
			Symbols:  []*obj.Symbol{{Name: "far", Section: obj.Abs, Value: 1 << 40, Bind: obj.Global}}}},
			"p.o:(.text.p+0x1): relocation R_X86_64_PLT32 out of range: 1099509526234 is not in [-2147483648, 2147483647]; references far\n>>> defined in p.o"},
		{"abs32s overflow", []*obj.Object{start(), {Name: "q.o",
			Sections: []*obj.Section{text(".text.q", []byte{0, 0, 0, 0}, obj.Reloc{Offset: 0, Kind: obj.Abs32S, Sym: 0})},
			Symbols:  []*obj.Symbol{{Name: "hi", Section: obj.Abs, Value: 0x80000000, Bind: obj.Local}}}},
			"q.o:(.text.q+0x0): relocation R_X86_64_32S out of range: 2147483648 is not in [-2147483648, 2147483647]; references hi\n>>> defined in q.o"},
		{"imagerel", []*obj.Object{start(), {Name: "i.o",
			Sections: []*obj.Section{text(".text.i", []byte{0, 0, 0, 0}, obj.Reloc{Offset: 0, Kind: obj.ImageRel32, Sym: 0})},
			Symbols:  []*obj.Symbol{{Name: "_start", Section: obj.Undef, Bind: obj.Global}}}},
			"i.o:(.text.i+0x0): relocation IMAGE_REL_AMD64_ADDR32NB is not supported in a elf executable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Link(tc.objs, link.Options{})
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.want)
		})
	}
}

func TestLinkFilesUnsupported(t *testing.T) {
	dir := t.TempDir()
	objs := assembleCorpus(t, dir, "err_exec_nobits")
	_, _, err := LinkFiles(objs, link.Options{})
	require.ErrorIs(t, err, ErrUnsupported)
	require.Equal(t, "link: "+objs[0]+": section .xb: non-empty writable executable SHT_NOBITS section is not supported", err.Error())
	_, _, err = LinkFiles([]string{filepath.Join(dir, "missing.o")}, link.Options{})
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestRelaxNone keeps every GOT load: the program still runs, and every
// GOT slot holds its symbol's address.
func TestRelaxNone(t *testing.T) {
	dir := t.TempDir()
	objs := assembleCorpus(t, dir, "gotload")
	out, l, err := Link(readObjects(t, objs), link.Options{RelaxGOT: link.RelaxNone})
	require.NoError(t, err)
	require.Zero(t, l.RelaxedGOTLoads)
	require.Len(t, l.GOT.Slots, 3) // counter, get35, finish
	got := l.Sections[l.GOT.Section]
	for i, id := range l.GOT.Slots {
		v := binary.LittleEndian.Uint64(out[got.Offset+uint64(i)*8:])
		require.Equal(t, l.Symbols[id].Addr, v, "slot %d (%s)", i, l.Symbols[id].Name)
	}
	exe := filepath.Join(dir, "ref.out")
	require.NoError(t, os.WriteFile(exe, out, 0o755))
	checkLLVMReads(t, exe)
	require.Equal(t, 42, runNative(t, exe).status)
}
