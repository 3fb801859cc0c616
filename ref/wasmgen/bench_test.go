package wasmgen

import (
	"fmt"
	"math/rand"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/ir/irtest"
	"github.com/linkcheck/linkcheck/ref/wasm"
)

// BenchmarkWasmGen measures the whole path from a checked module to
// serialized objects (compile, split into 4 units, write) on a generated
// program of 2,000 functions, in functions per second.
func BenchmarkWasmGen(b *testing.B) {
	const funcs = 2000
	m := ir.Generate(ir.GenConfig{Seed: 1, Funcs: funcs})
	unitOf := ir.Partition(m, 4)
	names := func(u int) string { return fmt.Sprintf("u%d.o", u) }
	bytes := 0
	for b.Loop() {
		files, err := BuildFiles(m, unitOf, 4, names, Options{})
		if err != nil {
			b.Fatal(err)
		}
		bytes = 0
		for _, f := range files {
			bytes += len(f)
		}
	}
	b.ReportMetric(float64(funcs)*float64(b.N)/b.Elapsed().Seconds(), "funcs/s")
	b.ReportMetric(float64(bytes)/funcs, "bytes/func")
}

// sameShape returns a .lir program and a C program of the same shape: n
// functions in a call chain, each reading and writing its own global,
// branching, and calling the next one.
func sameShape(n int) (lir, c string) {
	var l, s strings.Builder
	s.WriteString("typedef unsigned long long u64;\n")
	for k := 0; k < n; k++ {
		fmt.Fprintf(&l, "global g%d = %d\n", k, k)
		fmt.Fprintf(&s, "u64 g%d = %d;\n", k, k)
	}
	for k := 0; k < n; k++ {
		fmt.Fprintf(&s, "__attribute__((noinline)) u64 f%d(u64 x);\n", k)
	}
	for k := 0; k < n; k++ {
		next := fmt.Sprintf("f%d", k+1)
		if k == n-1 {
			fmt.Fprintf(&l, "func f%d(x) { let y = x * 3 + load g%d\n store g%d, y\n return y }\n", k, k, k)
			fmt.Fprintf(&s, "u64 f%d(u64 x) { u64 y = x * 3 + g%d; g%d = y; return y; }\n", k, k, k)
			continue
		}
		fmt.Fprintf(&l, "func f%d(x) { let y = x * 3 + load g%d\n store g%d, y\n if y > 1000 { return %s(y %% 1000) }\n return %s(y) }\n", k, k, k, next, next)
		fmt.Fprintf(&s, "u64 f%d(u64 x) { u64 y = x * 3 + g%d; g%d = y; if (y > 1000) return %s(y %% 1000); return %s(y); }\n", k, k, k, next, next)
	}
	l.WriteString("func main() { return f0(1) }\n")
	s.WriteString("u64 run(void) { return f0(1); }\n")
	return l.String(), s.String()
}

// codeBytes is the size of an object's function bodies.
func codeBytes(t *testing.T, name string, b []byte) int {
	o, err := wasm.ReadObject(name, b)
	require.NoError(t, err)
	n := 0
	for _, f := range o.Funcs {
		n += len(f.Code)
	}
	return n
}

// TestSizeAgainstClang compares the size of wasmgen's object for a
// 200-function program with clang-16's objects for the same program in C
// (-O1 and -O0), and logs the ratios (docs/wasm.md quotes them).
func TestSizeAgainstClang(t *testing.T) {
	clang := tools.Require(t, "clang")
	const n = 200
	lir, c := sameShape(n)
	m, err := ir.Parse("shape.lir", []byte(lir))
	require.NoError(t, err)
	files, err := BuildFiles(m, ir.Partition(m, 1), 1, func(int) string { return "shape.o" }, Options{})
	require.NoError(t, err)
	ours := files[0]
	dir := t.TempDir()
	src := filepath.Join(dir, "shape.c")
	require.NoError(t, os.WriteFile(src, []byte(c), 0o644))
	for _, opt := range []string{"-O1", "-O0"} {
		out := filepath.Join(dir, "shape"+opt+".o")
		msg, err := osexec.Command(clang.Path, "--target=wasm32", opt, "-c", "-o", out, src).CombinedOutput()
		require.NoError(t, err, "%s", msg)
		theirs, err := os.ReadFile(out)
		require.NoError(t, err)
		oc, tc := codeBytes(t, "shape.o", ours), codeBytes(t, out, theirs)
		t.Logf("%d functions: wasmgen object %d bytes, clang %s %d bytes: ratio %.2f; code %d vs %d bytes: ratio %.2f",
			n, len(ours), opt, len(theirs), float64(len(ours))/float64(len(theirs)), oc, tc, float64(oc)/float64(tc))
	}
}

// BenchmarkCompilerSequence compiles every version of 20 edit sequences
// (generated programs of 40 functions, 20 random edits each) with one
// Compiler per sequence and makes the one object of each, as the checked
// update loop (`linkcheck bench check -format wasm`) does.
func BenchmarkCompilerSequence(b *testing.B) {
	var seqs [][]*ir.Module
	for seed := int64(1); seed <= 20; seed++ {
		m := ir.Generate(ir.GenConfig{Seed: seed, Funcs: 40})
		r := rand.New(rand.NewSource(seed))
		seq := []*ir.Module{m}
		for range 20 {
			m, _ = ir.RandomEditShared(m, r)
			seq = append(seq, m)
		}
		seqs = append(seqs, seq)
	}
	names := func(int) string { return "u0.o" }
	b.ReportAllocs()
	versions := 0
	for i := 0; b.Loop(); i++ {
		c := NewCompiler(Options{})
		for _, m := range seqs[i%len(seqs)] {
			p, err := c.Compile(m)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := p.Objects(ir.Partition(m, 1), 1, names); err != nil {
				b.Fatal(err)
			}
			versions++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(versions), "ns/version")
}

// BenchmarkProgramLayer is the program layer of the checked update loop
// (`linkcheck bench check -format wasm`): for each sequence a generated
// program of 40 functions and 20 random edits, each version compiled by
// one Compiler into its one object, and every 4th (and the last)
// interpreted and compiled again by the fresh link's Compiler. "plain"
// draws the edits with ir.RandomEditShared and interprets with ir.Interp,
// "kept" with an ir.Editor and an ir.Interpreter per sequence (what the
// loop does); ns/update is per edit.
func BenchmarkProgramLayer(b *testing.B) {
	names := func(int) string { return "u0.o" }
	irtest.ProgramLayer(b, func(b *testing.B) (compile, checked func(*ir.Module)) {
		build := func(c *Compiler) func(*ir.Module) {
			return func(m *ir.Module) {
				p, err := c.Compile(m)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Objects(ir.Partition(m, 1), 1, names); err != nil {
					b.Fatal(err)
				}
			}
		}
		return build(NewCompiler(Options{})), build(NewCompiler(Options{}))
	})
}
