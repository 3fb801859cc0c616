package wasmgen

import (
	"bytes"
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/wasm"
)

// writeUnits builds m into units objects in dir and checks each with
// wasm-validate and ReadObject.
func writeUnits(t *testing.T, m *ir.Module, units int, dir string, opts Options) []string {
	t.Helper()
	validate := tools.Require(t, "wasm-validate")
	files, err := BuildFiles(m, ir.Partition(m, units), units, func(u int) string { return fmt.Sprintf("u%d.o", u) }, opts)
	require.NoError(t, err)
	var paths []string
	for u, b := range files {
		p := filepath.Join(dir, fmt.Sprintf("u%d.o", u))
		require.NoError(t, os.WriteFile(p, b, 0o644))
		if !opts.Faults.Has(fault.WasmUnpaddedLEB) {
			out, err := osexec.Command(validate.Path, p).CombinedOutput()
			require.NoError(t, err, "wasm-validate %s: %s", p, out)
			_, err = wasm.ReadObject(p, b)
			require.NoError(t, err)
		}
		paths = append(paths, p)
	}
	return paths
}

// linkRun links objects with wasm-ld and runs the result under both
// wazero engines; it returns the values or the first error.
func linkRun(t *testing.T, paths []string, dir string) ([]uint64, error) {
	t.Helper()
	tools.Require(t, "wasm-ld")
	exe := filepath.Join(dir, "a.wasm")
	res, err := lld.Link(context.Background(), obj.Wasm, paths, exe, lld.Options{})
	if err != nil {
		return nil, err
	}
	if res.Stderr != "" {
		return nil, fmt.Errorf("wasm-ld warnings: %s", res.Stderr)
	}
	data, err := os.ReadFile(exe)
	require.NoError(t, err)
	var vals []uint64
	for _, e := range exec.WazeroEngines {
		r, err := exec.RunWasm(context.Background(), data, e, exec.Options{})
		if err != nil {
			return vals, err
		}
		vals = append(vals, r.Value)
	}
	return vals, nil
}

func parse(t *testing.T, src string) *ir.Module {
	t.Helper()
	m, err := ir.Parse("t.lir", []byte(src))
	require.NoError(t, err)
	return m
}

// TestSemantics runs small programs covering each construct through
// wasm-ld and both wazero engines, with 1 and 3 units.
func TestSemantics(t *testing.T) {
	cases := []struct{ name, src string }{
		{"const", `func main() { return 42 }`},
		{"noreturn", `func main() { let x = 1 }`},
		{"arith", `func main() { return (0 - 1) * 3 + 7 / 2 - 9 % 4 + (1 << 65) + (256 >> 66) + (6 & 3) + (6 ^ 3) + (6 | 1) }`},
		{"divzero", `func main() { let z = 0
 return 7 / z + 7 % z + 100 }`},
		{"cmp", `func main() { return (-1 > 1) + (1 < 2) * 2 + (3 <= 3) * 4 + (4 >= 5) * 8 + (5 == 5) * 16 + (5 != 5) * 32 }`},
		{"unary", `func main() { return ~5 + -3 }`},
		{"calls", `func add(a, b) { return a + b }
func main() { return add(add(1, 2), add(3, 4)) }`},
		{"loops", `func main() { let i = 0
 let s = 0
 while i < 10 { s = s + i
 i = i + 1 }
 return s }`},
		{"ifelse", `func f(x) { if x < 3 { return 1 } else if x < 6 { return 2 } else { return 3 } }
func main() { return f(1) * 100 + f(4) * 10 + f(9) }`},
		{"globals", `global g = 7
const k = -2
global z = 0
func main() { store g, load g + load k
 store z, 5
 return load g * 10 + load z }`},
		{"indirect", `global p = &inc
const q = &dbl
local func inc(x) { return x + 1 }
func dbl(x) { return x * 2 }
func pick(a, b) { return b }
func main() { let f = &dbl
 store p, call load p(10)
 return call f(3) + call load q(5) + call (pick(&inc, &dbl))(100) + load p }`},
		{"dataptr", `global a = 5
global pa = &a
func main() { let v = load pa
 store pa, &a
 return 1 }`},
		{"errors", `errors OutOfMemory, FileNotFound
func main() { return errlen(error.FileNotFound) * 1000 + errbyte(error.OutOfMemory, 0) + errlen(0) + errlen(3) + errbyte(1, 11) + errbyte(2, 11) * 100000 }`},
		{"errnodecl", `func main() { return errlen(1) + errbyte(1, 0) }`},
		{"pad", `func main() { pad 100
 return 3 }`},
		{"recursion", `func fact(n) { if n == 0 { return 1 }
 return n * fact(n - 1) }
func main() { return fact(20) }`},
		{"argorder", `global c = 0
func tick() { store c, load c + 1
 return load c }
func sub(a, b) { return a - b }
func main() { return sub(tick(), tick()) + 10 }`},
		{"indirect_order", `global c = 0
func tick() { store c, load c + 1
 return &two }
func two(a, b) { return a * 10 + b }
func main() { return call (tick())(load c, load c) }`},
	}
	for _, c := range cases {
		m := parse(t, c.src)
		want, err := ir.Interp(m, ir.InterpOptions{})
		require.NoError(t, err, c.name)
		for _, units := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s/units=%d", c.name, units), func(t *testing.T) {
				dir := t.TempDir()
				paths := writeUnits(t, m, units, dir, Options{})
				vals, err := linkRun(t, paths, dir)
				require.NoError(t, err)
				for i, v := range vals {
					require.Equal(t, want, v, "engine %s", exec.WazeroEngines[i])
				}
			})
		}
	}
}

// TestDeepRecursion: 10,000 frames (main plus a chain of 9,999) under both
// engines.
func TestDeepRecursion(t *testing.T) {
	m := parse(t, `func down(n, acc) { if n == 0 { return acc }
 let a = acc + n
 let b = a * 1
 return down(n - 1, b) }
func main() { return down(9998, 0) }`)
	want, err := ir.Interp(m, ir.InterpOptions{})
	require.NoError(t, err)
	dir := t.TempDir()
	vals, err := linkRun(t, writeUnits(t, m, 1, dir, Options{}), dir)
	require.NoError(t, err)
	require.Equal(t, []uint64{want, want}, vals)
}

// TestObjectsReadByLLVM: llvm-objdump and llvm-readobj read the objects
// without a warning, wasm-objdump lists the relocations.
func TestObjectsReadByLLVM(t *testing.T) {
	objdump := tools.Require(t, "llvm-objdump")
	readobj := tools.Require(t, "llvm-readobj")
	wobjdump := tools.Require(t, "wasm-objdump")
	m := parse(t, `errors A, Bb
global p = &inc
global g = 3
local func inc(x) { return x + 1 }
func main() { let f = &inc
 store g, errlen(error.Bb)
 return call f(1) + call load p(2) + load g + errbyte(1, 0) }`)
	dir := t.TempDir()
	for _, p := range writeUnits(t, m, 2, dir, Options{}) {
		for _, cmd := range [][]string{
			{objdump.Path, "-d", "-r", "-t", p},
			{readobj.Path, "--all", p},
			{wobjdump.Path, "-x", "-r", "-d", p},
		} {
			c := osexec.Command(cmd[0], cmd[1:]...)
			var stderr bytes.Buffer
			c.Stderr = &stderr
			out, err := c.Output()
			require.NoError(t, err, "%s: %s", cmd[0], stderr.String())
			require.Empty(t, stderr.String(), "%v", cmd)
			require.NotContains(t, strings.ToLower(string(out)), "warning")
		}
	}
}

// TestStackOverflowTraps: a recursion whose frames exceed StackSize traps
// in the prologue's guard (unreachable) under both engines, before
// wazero's call-depth limit, instead of writing below the stack into data.
func TestStackOverflowTraps(t *testing.T) {
	var b strings.Builder
	b.WriteString("global canary = 77\nfunc deep(n) {\n")
	for i := 0; i < 99; i++ {
		fmt.Fprintf(&b, " let v%d = n + %d\n", i, i)
	}
	b.WriteString(" if n == 0 { return load canary }\n return deep(n - 1) + v0 - n\n}\nfunc main() { return deep(15000) }\n")
	m := parse(t, b.String())
	p, err := Compile(m, Options{})
	require.NoError(t, err)
	require.Equal(t, uint32(800), p.MaxFrame)
	require.Less(t, StackSize/int(p.MaxFrame), 15000, "the recursion must not fit the stack")
	_, err = ir.Interp(m, ir.InterpOptions{})
	require.Error(t, err, "deeper than the interpreter allows")
	dir := t.TempDir()
	_, err = linkRun(t, writeUnits(t, m, 1, dir, Options{}), dir)
	require.Error(t, err)
	require.Contains(t, err.Error(), "unreachable")
}

// TestStackHoldsDeepFrames: 10,000 frames of 100 slots (800 bytes, the
// most StackSize holds) run to the interpreter's value.
func TestStackHoldsDeepFrames(t *testing.T) {
	var b strings.Builder
	b.WriteString("func deep(n) {\n")
	for i := 0; i < 99; i++ {
		fmt.Fprintf(&b, " let v%d = n + %d\n", i, i)
	}
	b.WriteString(" if n == 0 { return v98 }\n return deep(n - 1) + v0 - n\n}\nfunc main() { return deep(9998) }\n")
	m := parse(t, b.String())
	want, err := ir.Interp(m, ir.InterpOptions{})
	require.NoError(t, err)
	dir := t.TempDir()
	vals, err := linkRun(t, writeUnits(t, m, 1, dir, Options{}), dir)
	require.NoError(t, err)
	require.Equal(t, []uint64{want, want}, vals)
}

// TestDeterministic: the same program gives the same bytes.
func TestDeterministic(t *testing.T) {
	m := ir.Generate(ir.GenConfig{Seed: 7, Funcs: 60})
	names := func(u int) string { return fmt.Sprintf("u%d.o", u) }
	a, err := BuildFiles(m, ir.Partition(m, 3), 3, names, Options{})
	require.NoError(t, err)
	b, err := BuildFiles(ir.Clone(m), ir.Partition(m, 3), 3, names, Options{})
	require.NoError(t, err)
	require.Equal(t, a, b)
}

// TestBuildErrors: what Build refuses, with a message saying why.
func TestBuildErrors(t *testing.T) {
	m := parse(t, `global g = 1
func f() { return 1 }
func main() { return f() }`)
	names := func(u int) string { return "u.o" }
	cases := []struct {
		name   string
		m      *ir.Module
		unitOf map[string]int
		units  int
		want   string
	}{
		{"no main", &ir.Module{Funcs: []*ir.Func{{Name: "f"}}}, map[string]int{"f": 0}, 1, "no main function"},
		{"zero units", m, ir.Partition(m, 1), 0, "need at least 1"},
		{"missing unit", m, map[string]int{"main": 0, "f": 0}, 1, `no unit for "g"`},
		{"unit out of range", m, map[string]int{"main": 0, "f": 5, "g": 0}, 2, `unit 5 of "f" out of range 0..1`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Build(c.m, c.unitOf, c.units, names)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
			require.True(t, strings.HasPrefix(err.Error(), "wasmgen: "), "%v", err)
		})
	}
}
