package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	osexec "os/exec"
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
	"github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
	"github.com/linkcheck/linkcheck/ref/wasm"
	"github.com/linkcheck/linkcheck/ref/wasmgen"
)

// TestRefWasmAgainstLLD is issue 16's proof for the reference Wasm linker:
// every corpus program and 500 generated ones (50 with -short), split into
// 1 to 4 units, link with ref/wasm into the bytes wasm-ld writes, diff
// clean against wasm-ld's module with no ignore rule and coverage above
// 99% (nothing the canonical reader could not name), and the module runs
// under both wazero engines to the interpreter's value. The canonical
// decoder is cross-checked against wasm-objdump -d on the corpus and the
// first 50 generated programs.
func TestRefWasmAgainstLLD(t *testing.T) {
	tools.Require(t, "wasm-ld")
	n := 500
	if testing.Short() {
		n = 50
	}
	corpus := corpusPrograms(t)
	progs := append(corpus, generatedPrograms(n, 0)...)
	for i, p := range progs {
		units := 1 + i%4
		t.Run(fmt.Sprintf("%s/units=%d", p.name, units), func(t *testing.T) {
			t.Parallel()
			want, err := Expected(p.m)
			require.NoError(t, err)
			dir := t.TempDir()
			objs, err := BuildWasmDir(p.m, units, filepath.Join(dir, "obj"), wasmgen.Options{})
			require.NoError(t, err)
			ctx := context.Background()
			res := wasmDiffClean(t, objs, dir)
			_, err = RunWasmEngines(ctx, res.ExeB, want)
			require.NoError(t, err)
			if i < len(corpus)+50 {
				wasmObjdumpAgrees(t, res.ExeB, objs)
			}
		})
	}
}

// wasmDiffClean links objs with wasm-ld (A) and ref/wasm (B) in dir and
// requires the same bytes, no difference between the canonical images, a
// coverage above 99% and nothing either image could not name.
func wasmDiffClean(t *testing.T, objs []string, dir string) *LinkersResult {
	t.Helper()
	a, err := linker.Lookup(linker.LLD)
	require.NoError(t, err)
	b, err := linker.Lookup(linker.Ref)
	require.NoError(t, err)
	res, err := DiffLinkers(context.Background(), obj.Wasm, a, b, objs, dir, diff.Options{})
	require.NoError(t, err)
	require.True(t, res.Report.Equal(), "%s", res.Report.Text())
	require.Greater(t, res.Report.Coverage.Ratio(), 0.99, "a vacuous diff: %s", res.Report.Text())
	t.Logf("coverage %.4f (%d insns, %d pointers, %d symbols)", res.Report.Coverage.Ratio(), res.Report.Coverage.Insns, res.Report.Coverage.Pointers, res.Report.Coverage.Symbols)
	wobjs, err := target.ReadWasmObjects(objs)
	require.NoError(t, err)
	for _, exe := range []string{res.ExeA, res.ExeB} {
		im, err := readWasmImage(exe, wobjs)
		require.NoError(t, err)
		require.Empty(t, im.Notes, "%s: everything is named", filepath.Base(exe))
	}
	x, err := os.ReadFile(res.ExeA)
	require.NoError(t, err)
	y, err := os.ReadFile(res.ExeB)
	require.NoError(t, err)
	require.True(t, bytes.Equal(x, y), "ref/wasm's module differs from wasm-ld's (%d vs %d bytes)", len(y), len(x))
	return res
}

var objdumpFuncRE = regexp.MustCompile(`^[0-9a-f]+ func\[\d+\] <(.*)>:$`)

// wasmObjdumpAgrees requires the canonical decoding of the module at exe
// to agree with wasm-objdump -d: per function (functions of one name as a
// multiset), the same instructions, of the same lengths, calling the same
// functions; and with wasm-objdump -x: the same functions in the table and
// the same exports.
func wasmObjdumpAgrees(t *testing.T, exe string, objs []string) {
	t.Helper()
	od := tools.Require(t, "wasm-objdump")
	out, err := osexec.Command(od.Path, "-d", exe).Output()
	require.NoError(t, err)
	want := map[string][]string{}
	var name string
	var cur []string
	var offs []int64
	flush := func() {
		if name == "" {
			return
		}
		// lengths from consecutive offsets; the last instruction (end) is
		// one byte
		var b strings.Builder
		for k, c := range cur {
			l := int64(1)
			if k+1 < len(offs) {
				l = offs[k+1] - offs[k]
			}
			fmt.Fprintf(&b, "%s/%d;", c, l)
		}
		want[name] = append(want[name], b.String())
	}
	for _, line := range strings.Split(string(out), "\n") {
		if m := objdumpFuncRE.FindStringSubmatch(line); m != nil {
			flush()
			name, cur, offs = m[1], nil, nil
			continue
		}
		addr, text, ok := strings.Cut(line, "|")
		if !ok || name == "" {
			continue
		}
		text = strings.TrimSpace(text)
		if text == "" {
			continue
		}
		if strings.HasPrefix(text, "local[") {
			continue
		}
		off, err := strconv.ParseInt(strings.TrimSpace(strings.SplitN(addr, ":", 2)[0]), 16, 64)
		require.NoError(t, err, line)
		fields := strings.Fields(text)
		op := fields[0]
		if op == "call" && len(fields) >= 3 {
			op += " " + strings.Trim(fields[2], "<>")
		}
		cur = append(cur, op)
		offs = append(offs, off)
	}
	flush()
	wobjs, err := target.ReadWasmObjects(objs)
	require.NoError(t, err)
	im, err := readWasmImage(exe, wobjs)
	require.NoError(t, err)
	got := map[string][]string{}
	for _, s := range im.Symbols {
		if s.Kind != canon.KindFunc {
			continue
		}
		var b strings.Builder
		for _, in := range s.Insns {
			if in.Op == "locals" {
				continue
			}
			op := in.Op
			if op == "call" {
				callee, _, _ := strings.Cut(in.Args[0], "@")
				op += " " + callee
			}
			fmt.Fprintf(&b, "%s/%d;", op, in.Len)
		}
		base, _, _ := strings.Cut(s.Name, "@")
		got[base] = append(got[base], b.String())
	}
	for _, m := range []map[string][]string{want, got} {
		for k := range m {
			sort.Strings(m[k])
		}
	}
	require.Equal(t, want, got, "canonical decoding vs wasm-objdump -d of %s", exe)

	// wasm-objdump -x: the functions in the table and the exports
	out, err = osexec.Command(od.Path, "-x", exe).Output()
	require.NoError(t, err)
	var wantTable, gotTable, wantExports, gotExports []string
	for _, line := range strings.Split(string(out), "\n") {
		if m := objdumpElemRE.FindStringSubmatch(line); m != nil {
			wantTable = append(wantTable, m[1])
		}
		if m := objdumpExportRE.FindStringSubmatch(line); m != nil {
			target := m[1]
			if target == "" {
				target = "memory"
			}
			wantExports = append(wantExports, m[3]+" "+target)
		}
	}
	for _, s := range im.Symbols {
		switch {
		case s.Name == "__indirect_function_table":
			for _, p := range s.Pointers {
				name, _, _ := strings.Cut(strings.TrimPrefix(p.Target, "&"), "@")
				gotTable = append(gotTable, name)
			}
		case strings.HasPrefix(s.Name, "export:"):
			target := strings.TrimPrefix(s.Pointers[0].Target, "&")
			if s.Pointers[0].Kind == "export memory" {
				target = "memory"
			}
			name, _, _ := strings.Cut(target, "@")
			gotExports = append(gotExports, strings.TrimPrefix(s.Name, "export:")+" "+name)
		}
	}
	for _, l := range [][]string{wantTable, gotTable, wantExports, gotExports} {
		sort.Strings(l)
	}
	require.Equal(t, wantTable, gotTable, "table vs wasm-objdump -x of %s", exe)
	require.Equal(t, wantExports, gotExports, "exports vs wasm-objdump -x of %s", exe)
}

var (
	objdumpElemRE   = regexp.MustCompile(`^\s+- elem\[\d+\] = func\[\d+\] <(.*)>$`)
	objdumpExportRE = regexp.MustCompile(`^\s+- (?:func\[\d+\] <(.*)>|memory\[\d+\]()) -> "(.*)"$`)
)

// wasmCFlagSets are the clang flag sets corpus/c is compiled under for
// wasm32 (PIC is not a static link: wasm-ld's -fPIC objects need GOT
// globals).
var wasmCFlagSets = []string{"-O0", "-O1", "-O2", "-Os -ffunction-sections -fdata-sections"}

// wasmCPrograms are the programs of corpus/c that build for wasm32.
var wasmCPrograms = []string{"floats", "switch", "tables", "units"}

// compileWasmC compiles the .c files of dir for wasm32 with flags into
// work and returns the objects in file-name order.
func compileWasmC(t *testing.T, dir, flags, work string) []string {
	t.Helper()
	cc := tools.Require(t, "clang")
	srcs, err := filepath.Glob(filepath.Join(dir, "*.c"))
	require.NoError(t, err)
	require.NotEmpty(t, srcs, dir)
	sort.Strings(srcs)
	var objs []string
	for _, src := range srcs {
		o := filepath.Join(work, strings.TrimSuffix(filepath.Base(src), ".c")+".o")
		args := append([]string{"--target=wasm32", "-ffreestanding"}, strings.Fields(flags)...)
		args = append(args, "-c", src, "-o", o)
		out, err := osexec.Command(cc.Path, args...).CombinedOutput()
		require.NoError(t, err, "clang %s: %s", strings.Join(args, " "), out)
		objs = append(objs, o)
	}
	return objs
}

// TestWasmCCorpus links clang's wasm32 objects of corpus/c (function-pointer
// tables, strings merged across units, same-named statics in two units,
// jump tables, large .bss) with ref/wasm and wasm-ld under every flag set:
// the same bytes, and both modules compute the same value.
func TestWasmCCorpus(t *testing.T) {
	tools.Require(t, "wasm-ld")
	// corpus/c/tls is x86_64 only (inline assembly, TLS models, archives).
	for _, name := range wasmCPrograms {
		d := filepath.Join("../../corpus/c", name)
		for _, flags := range wasmCFlagSets {
			t.Run(filepath.Base(d)+"/"+strings.ReplaceAll(flags, " ", "_"), func(t *testing.T) {
				work := t.TempDir()
				objs := compileWasmC(t, d, flags, work)
				ctx := context.Background()
				res := wasmDiffClean(t, objs, work)
				wasmObjdumpAgrees(t, res.ExeB, objs)
				a, err := os.ReadFile(res.ExeA)
				require.NoError(t, err)
				b, err := os.ReadFile(res.ExeB)
				require.NoError(t, err)
				va, err := oexec.RunWasm(ctx, a, oexec.WazeroCompiler, oexec.Options{})
				require.NoError(t, err)
				vb, err := oexec.RunWasm(ctx, b, oexec.WazeroInterpreter, oexec.Options{})
				require.NoError(t, err)
				require.Equal(t, va.Value, vb.Value)
			})
		}
	}
}

// TestWasmLinkRefusesDebugInfo: clang -g objects carry relocated DWARF
// sections, which the reference linker refuses naming the file, the
// section, the offset and the feature.
func TestWasmLinkRefusesDebugInfo(t *testing.T) {
	work := t.TempDir()
	objs := compileWasmC(t, "../../corpus/c/units", "-O1 -g", work)
	_, err := LinkRef(obj.Wasm, objs, filepath.Join(work, "ref.wasm"))
	require.ErrorIs(t, err, wasm.ErrUnsupported)
	require.Regexp(t, `a\.o: unsupported: reloc\.\.debug_\w+, offset 0x[0-9a-f]+: relocations in custom section \.debug_\w+ \(debug information\) is not supported`, err.Error())
	require.NoFileExists(t, filepath.Join(work, "ref.wasm"))
}

// TestWasmLinkFaults plants each of the reference Wasm linker's seeded
// defects and requires the canonical diff against wasm-ld to report it
// under its key: a stale table slot shows in the table and in the
// functions that take an address through it; a data pointer with a wrong
// relocation bias shows as the pointer's target, or, where the datum it
// points at is reached through data pointers only, as that datum's bytes
// (and the error table's names). The value check catches the stale slot as well;
// the shifted pointers of these programs happen to keep every value.
func TestWasmLinkFaults(t *testing.T) {
	tools.Require(t, "wasm-ld")
	cases := []struct {
		f    fault.Fault
		prog string
		keys []string
		// runs: the module no longer computes the interpreter's value
		runs bool
	}{
		{fault.WasmLinkTableSlot, "indirect_calls.lir", []string{diff.KeyDataPointer, diff.KeyTextOperand}, true},
		// counter and the error names are reached only through data
		// pointers: where they landed is learnt from those, so they read
		// shifted
		{fault.WasmLinkDataPointer, "data_pointers.lir", []string{diff.KeyDataBytes}, false},
		{fault.WasmLinkDataPointer, "errors_one.lir", []string{diff.KeyDataBytes, diff.KeyErrtabName}, false},
	}
	progs := map[string]program{}
	for _, p := range corpusPrograms(t) {
		progs[p.name] = p
	}
	for _, tc := range cases {
		t.Run(tc.f.String()+"/"+tc.prog, func(t *testing.T) {
			p, ok := progs[tc.prog]
			require.True(t, ok, tc.prog)
			dir := t.TempDir()
			objs, err := BuildWasmDir(p.m, 2, filepath.Join(dir, "obj"), wasmgen.Options{})
			require.NoError(t, err)
			lldExe, refExe := filepath.Join(dir, "lld.wasm"), filepath.Join(dir, "ref.wasm")
			_, err = LinkLLD(context.Background(), obj.Wasm, objs, lldExe)
			require.NoError(t, err)
			image, _, err := target.MustLookup(obj.Wasm).Link(objs, link.Options{Faults: fault.Of(tc.f)})
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(refExe, image, 0o644))
			wobjs, err := target.ReadWasmObjects(objs)
			require.NoError(t, err)
			a, err := readWasmImage(lldExe, wobjs)
			require.NoError(t, err)
			b, err := readWasmImage(refExe, wobjs)
			require.NoError(t, err)
			rep := diff.Compare(a, b, diff.Options{})
			require.False(t, rep.Equal(), "%s not reported", tc.f)
			for _, k := range tc.keys {
				require.NotEmpty(t, rep.Find(k), "%s: no %s difference in\n%s", tc.f, k, rep.Text())
			}
			t.Logf("%s: %d differences, keys %v", tc.f, len(rep.Differences), rep.Keys())
			if tc.runs {
				want, err := Expected(p.m)
				require.NoError(t, err)
				_, err = RunWasmEngines(context.Background(), refExe, want)
				require.Error(t, err, "%s: the value check should fail too", tc.f)
			}
		})
	}
}

// wasmCEdges is C that exercises what corpus/c does not: export_name,
// default visibility, a weak definition overridden by a strong one in
// another unit, an undefined weak datum, strings tail-merged across units,
// statics of one name in two units, function-local statics.
var wasmCEdges = map[string]string{
	"a.c": `__attribute__((export_name("exported_fn"))) int efn(int x) { return x + 1; }
__attribute__((visibility("default"))) int visible(int x) { return x * 5; }
__attribute__((weak)) int wdata = 5;
extern int wext __attribute__((weak));
extern int get(void);
const char *s1 = "hello world";
const char *s2 = "world";
static int counter;
int bump(void) { static int n; return ++n + ++counter; }
long long _start(void) { return efn(1) + visible(2) + wdata + (&wext ? 1 : 0) + s1[0] + s2[1] + bump() + get(); }
`,
	"b.c": `int wdata = 9;
const char *s3 = "world";
const char *s4 = "lo world";
static int counter = 4;
int get(void) { return counter++ + s3[0] + s4[0]; }
`,
}

// TestWasmCEdges links wasmCEdges under each flag set with both linkers:
// the same bytes, a clean diff, the same value.
func TestWasmCEdges(t *testing.T) {
	tools.Require(t, "wasm-ld")
	src := t.TempDir()
	for name, text := range wasmCEdges {
		require.NoError(t, os.WriteFile(filepath.Join(src, name), []byte(text), 0o644))
	}
	for _, flags := range wasmCFlagSets {
		t.Run(strings.ReplaceAll(flags, " ", "_"), func(t *testing.T) {
			work := t.TempDir()
			objs := compileWasmC(t, src, flags, work)
			res := wasmDiffClean(t, objs, work)
			wasmObjdumpAgrees(t, res.ExeB, objs)
			b, err := os.ReadFile(res.ExeB)
			require.NoError(t, err)
			v, err := oexec.RunWasm(context.Background(), b, oexec.WazeroInterpreter, oexec.Options{})
			require.NoError(t, err)
			require.Equal(t, uint64(1+1+10+9+0+'h'+'o'+2+(4+'w'+'l')), v.Value)
		})
	}
}

// TestWasmCImport: a function declared with import_module/import_name is
// not an undefined symbol but an import of the module, as wasm-ld makes it
// (also in the table when its address is taken);
// both links are the same bytes and diff clean (the module needs its host
// function, so it is not run).
func TestWasmCImport(t *testing.T) {
	tools.Require(t, "wasm-ld")
	src := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(src, "im.c"), []byte(`__attribute__((import_module("host"), import_name("get"))) int host_get(int);
__attribute__((weak)) int maybe(int);
static int local1(int x) { return x; }
int (*fps[])(int) = { local1, host_get };
long long _start(void) { return host_get(3) + (maybe ? maybe(1) : 0) + fps[1](3) + fps[0](2) + (long long)(int)host_get; }
`), 0o644))
	for _, flags := range wasmCFlagSets {
		t.Run(strings.ReplaceAll(flags, " ", "_"), func(t *testing.T) {
			work := t.TempDir()
			objs := compileWasmC(t, src, flags, work)
			res := wasmDiffClean(t, objs, work)
			wasmObjdumpAgrees(t, res.ExeB, objs)
		})
	}
}
