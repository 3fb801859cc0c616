package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/wasmgen"
)

var wasmExpectRE = regexp.MustCompile(`(?m)^#\s*expect:\s*(\d+)\s*$`)

// corpusExpect returns the `# expect:` value of a corpus program.
func corpusExpect(t *testing.T, name string) uint64 {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("../../corpus/programs", name))
	require.NoError(t, err)
	m := wasmExpectRE.FindSubmatch(src)
	require.NotNil(t, m, "%s has no # expect: line", name)
	v, err := strconv.ParseUint(string(m[1]), 10, 64)
	require.NoError(t, err)
	return v
}

// wasmValidate runs wasm-validate on each path.
func wasmValidate(t *testing.T, paths ...string) error {
	t.Helper()
	validate := tools.Require(t, "wasm-validate")
	for _, p := range paths {
		out, err := osexec.Command(validate.Path, p).CombinedOutput()
		if err != nil {
			return fmt.Errorf("wasm-validate %s: %v: %s", p, err, out)
		}
	}
	return nil
}

// TestWasmEndToEnd is issue 15's proof: every corpus program (its value
// also checked against its `# expect:` line) and 500 generated ones (50
// with -short), split into 1 and 3 units, are compiled by ref/wasmgen into
// objects that pass wasm-validate, linked by wasm-ld without a warning, and
// run by both wazero engines to the interpreter's value.
func TestWasmEndToEnd(t *testing.T) {
	tools.Require(t, "wasm-ld")
	tools.Require(t, "wasm-validate")
	n := 500
	if testing.Short() {
		n = 50
	}
	var progs []program
	for _, p := range corpusPrograms(t) {
		want, err := Expected(p.m)
		require.NoError(t, err, p.name)
		require.Equal(t, corpusExpect(t, p.name), want, "%s: interpreter vs # expect:", p.name)
		progs = append(progs, p)
	}
	progs = append(progs, generatedPrograms(n, 0)...)
	ctx := context.Background()
	validate := tools.Require(t, "wasm-validate").Path
	for _, p := range progs {
		want, err := Expected(p.m)
		require.NoError(t, err, p.name)
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			// Both unit counts at once: most of a case's time is spent
			// waiting for wasm-validate and wasm-ld.
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, units := range []int{1, 3} {
				dir := t.TempDir()
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = wasmCase(ctx, p.m, units, dir, validate, want)
				}()
			}
			wg.Wait()
			for i, err := range errs {
				require.NoError(t, err, "%s/units=%d", p.name, []int{1, 3}[i])
			}
		})
	}
}

// wasmCase builds m into units objects in dir, checks them with
// wasm-validate, links them with wasm-ld (no warning allowed) and runs the
// result under both wazero engines, which must compute want.
func wasmCase(ctx context.Context, m *ir.Module, units int, dir, validate string, want uint64) error {
	objs, err := BuildWasmDir(m, units, dir, wasmgen.Options{})
	if err != nil {
		return err
	}
	for _, o := range objs {
		if out, err := osexec.Command(validate, o).CombinedOutput(); err != nil {
			return fmt.Errorf("wasm-validate %s: %v: %s", o, err, out)
		}
	}
	exe := filepath.Join(dir, ExeName(obj.Wasm))
	res, err := LinkLLD(ctx, obj.Wasm, objs, exe)
	if err != nil {
		return err
	}
	if res.Stderr != "" {
		return fmt.Errorf("wasm-ld warnings for %s: %s", res.Reproducer(), res.Stderr)
	}
	got, err := RunWasmEngines(ctx, exe, want)
	if err != nil {
		return err
	}
	if len(got) != len(exec.WazeroEngines) {
		return fmt.Errorf("%d engines ran, want %d", len(got), len(exec.WazeroEngines))
	}
	return nil
}

// TestWasmDeepRecursion: corpus/programs/deep_recursion.lir needs exactly
// 10,000 frames (the interpreter refuses it with one fewer) and both wazero
// engines run it, so neither the linear-memory stack nor wazero's own call
// stack is the limit.
func TestWasmDeepRecursion(t *testing.T) {
	tools.Require(t, "wasm-ld")
	m, err := Load("../../corpus/programs/deep_recursion.lir")
	require.NoError(t, err)
	want, err := ir.Interp(m, ir.InterpOptions{MaxDepth: 10_000})
	require.NoError(t, err)
	_, err = ir.Interp(m, ir.InterpOptions{MaxDepth: 9_999})
	require.Error(t, err, "the program must need all 10,000 frames")
	for _, units := range []int{1, 3} {
		dir := t.TempDir()
		objs, err := BuildWasmDir(m, units, dir, wasmgen.Options{})
		require.NoError(t, err)
		exe := filepath.Join(dir, "a.wasm")
		_, err = LinkLLD(context.Background(), obj.Wasm, objs, exe)
		require.NoError(t, err)
		_, err = RunWasmEngines(context.Background(), exe, want)
		require.NoError(t, err)
		// The runner the command line uses (exec.Run, mode wazero) too.
		res, err := exec.Run(context.Background(), exe, exec.Options{Mode: exec.Wazero})
		require.NoError(t, err)
		require.True(t, res.Matches(want), "exec.Run: %s, want %d", res, want)
	}
}

// TestWasmObjectsReadByLLVM: LLVM's tools and wasm-objdump read the
// objects of every corpus program, split into 3 units, without a warning.
func TestWasmObjectsReadByLLVM(t *testing.T) {
	readobj := tools.Require(t, "llvm-readobj")
	objdump := tools.Require(t, "llvm-objdump")
	wobjdump := tools.Require(t, "wasm-objdump")
	for _, p := range corpusPrograms(t) {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			paths, err := BuildWasmDir(p.m, 3, t.TempDir(), wasmgen.Options{})
			require.NoError(t, err)
			for _, cmd := range [][]string{
				append([]string{readobj.Path, "--all"}, paths...),
				append([]string{objdump.Path, "-d", "-r", "-t"}, paths...),
				append([]string{wobjdump.Path, "-x", "-r"}, paths...),
			} {
				c := osexec.Command(cmd[0], cmd[1:]...)
				var stderr bytes.Buffer
				c.Stderr = &stderr
				out, err := c.Output()
				require.NoError(t, err, "%s: %s", cmd[0], stderr.String())
				require.Empty(t, stderr.String(), "%s", cmd[0])
				require.NotContains(t, strings.ToLower(string(out)), "warning")
			}
		})
	}
}

// TestWasmSeededDefects injects each Wasm defect of the fault catalogue and requires
// that an oracle reports it: wasm-validate (on the objects or the linked
// module), a wazero compile error or trap, or a value other than the
// interpreter's. A defect that goes unnoticed fails the test.
func TestWasmSeededDefects(t *testing.T) {
	tools.Require(t, "wasm-ld")
	cases := []struct {
		name   string
		faults fault.Set
		src    string
	}{
		{"call relocation names the wrong symbol", fault.Of(fault.WasmWrongCallSymbol), `
func inc(x) { return x + 1 }
func far(x) { return x + 1000 }
func main() { return inc(1) + far(2) }`},
		{"unpadded LEB under a relocation", fault.Of(fault.WasmUnpaddedLEB), `
func inc(x) { return x + 1 }
func main() { return inc(1) + 10 }`},
		{"error slice length off by one", fault.Of(fault.WasmErrLenOffByOne), `
errors OutOfMemory, FileNotFound
func main() { return errlen(error.FileNotFound) * 100 + errbyte(error.OutOfMemory, 11) }`},
		{"table index off by one", fault.Of(fault.WasmTableIndexOffByOne), `
func inc(x) { return x + 1 }
func dbl(x) { return x * 2 }
func main() { let f = &dbl
 let g = &inc
 return call f(10) + call g(10) }`},
	}
	ctx := context.Background()
	for _, c := range cases {
		m, err := ir.Parse("defect.lir", []byte(c.src))
		require.NoError(t, err)
		want, err := Expected(m)
		require.NoError(t, err)
		for _, units := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/units=%d", c.name, units), func(t *testing.T) {
				dir := t.TempDir()
				objs, err := BuildWasmDir(m, units, dir, wasmgen.Options{Faults: c.faults})
				require.NoError(t, err)
				if err := wasmValidate(t, objs...); err != nil {
					t.Logf("caught by wasm-validate on the objects: %v", err)
					return
				}
				exe := filepath.Join(dir, "a.wasm")
				res, err := LinkLLD(ctx, obj.Wasm, objs, exe)
				require.NoError(t, err, "wasm-ld must link the defective objects; the oracles downstream judge")
				require.Empty(t, res.Stderr)
				if err := wasmValidate(t, exe); err != nil {
					t.Logf("caught by wasm-validate on the linked module: %v", err)
					return
				}
				_, err = RunWasmEngines(ctx, exe, want)
				require.Error(t, err, "the defect went unnoticed")
				t.Logf("caught by wazero: %v", err)
			})
		}
	}
}
