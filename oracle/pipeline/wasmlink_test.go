package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	oexec "github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/wasm"
	"github.com/linkcheck/linkcheck/ref/wasmgen"
)

// TestRefWasmAgainstLLD is issue 16's proof for the reference Wasm linker:
// every corpus program and 500 generated ones (50 with -short), split into
// 1 to 4 units, link with ref/wasm into the bytes wasm-ld writes, and the
// module runs under both wazero engines to the interpreter's value.
func TestRefWasmAgainstLLD(t *testing.T) {
	tools.Require(t, "wasm-ld")
	n := 500
	if testing.Short() {
		n = 50
	}
	progs := append(corpusPrograms(t), generatedPrograms(n, 0)...)
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
			lldExe, refExe := filepath.Join(dir, "lld.wasm"), filepath.Join(dir, "ref.wasm")
			_, err = LinkLLD(ctx, obj.Wasm, objs, lldExe)
			require.NoError(t, err)
			_, err = LinkRef(obj.Wasm, objs, refExe)
			require.NoError(t, err)
			a, err := os.ReadFile(lldExe)
			require.NoError(t, err)
			b, err := os.ReadFile(refExe)
			require.NoError(t, err)
			require.True(t, bytes.Equal(a, b), "ref/wasm's module differs from wasm-ld's (%d vs %d bytes)", len(b), len(a))
			_, err = RunWasmEngines(ctx, refExe, want)
			require.NoError(t, err)
		})
	}
}

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
				lldExe, refExe := filepath.Join(work, "lld.wasm"), filepath.Join(work, "ref.wasm")
				_, err := LinkLLD(ctx, obj.Wasm, objs, lldExe)
				require.NoError(t, err)
				_, err = LinkRef(obj.Wasm, objs, refExe)
				require.NoError(t, err)
				a, err := os.ReadFile(lldExe)
				require.NoError(t, err)
				b, err := os.ReadFile(refExe)
				require.NoError(t, err)
				require.True(t, bytes.Equal(a, b), "ref/wasm's module differs from wasm-ld's")
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
