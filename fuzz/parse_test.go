package fuzz

import (
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	gofuzz "github.com/google/gofuzz"

	"github.com/linkcheck/linkcheck/ref/ir"
)

// FuzzParse feeds arbitrary bytes to the parser, the checker and the
// interpreter: none may panic or hang, and every program that parses must
// print and re-parse to an equal module whose printed text is a fixed
// point.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../corpus/programs/*.lir")
	for _, file := range files {
		if src, err := os.ReadFile(file); err == nil {
			f.Add(src)
		}
	}
	for seed := int64(1); seed <= 4; seed++ {
		f.Add(ir.Print(ir.Generate(ir.GenConfig{Seed: seed, Funcs: 6})))
	}
	f.Add([]byte("func main() { return 1 }"))
	f.Add([]byte("errors A\nfunc main() { return errbyte(error.A, 0) }"))
	f.Fuzz(func(t *testing.T, src []byte) {
		m, err := boundedRead(t, "ir.Parse", len(src), lirPerByte, func() (*ir.Module, error) { return ir.Parse("fuzz.lir", src) })
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		out := ir.Print(m)
		m2, err := ir.Parse("printed.lir", out)
		if err != nil {
			t.Fatalf("printed program does not parse: %v\n%s", err, out)
		}
		if !ir.Equal(m, m2) {
			t.Fatalf("print/parse round trip changed the module:\n%s", out)
		}
		if out2 := ir.Print(m2); string(out2) != string(out) {
			t.Fatalf("printing is not a fixed point:\n%s\n---\n%s", out, out2)
		}
		opts := ir.InterpOptions{Fuel: 200_000, MaxDepth: 1_000}
		v1, err1 := ir.Interp(m, opts)
		v2, err2 := ir.Interp(m2, opts)
		if v1 != v2 || (err1 == nil) != (err2 == nil) {
			t.Fatalf("interpretation differs after round trip: %d %v / %d %v", v1, err1, v2, err2)
		}
	})
}

// FuzzGenEdit draws a generator configuration and an edit sequence from
// the fuzzer's bytes (through gofuzz): every version must pass the
// checker, round-trip through the printer and terminate within the fuel.
func FuzzGenEdit(f *testing.F) {
	f.Add([]byte("seed"))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Fuzz(func(t *testing.T, data []byte) {
		var p struct {
			Seed  int64
			Funcs uint8
			Edits uint8
		}
		gofuzz.NewFromGoFuzz(data).Fuzz(&p)
		r := rand.New(rand.NewSource(p.Seed))
		m := ir.GenerateRand(r, ir.GenConfig{Funcs: 1 + int(p.Funcs)})
		for i := 0; i <= int(p.Edits%16); i++ {
			if err := ir.Check(m); err != nil {
				t.Fatalf("version %d: %v", i+1, err)
			}
			m2, err := ir.Parse("v.lir", ir.Print(m))
			if err != nil || !ir.Equal(m, m2) {
				t.Fatalf("version %d: round trip: %v", i+1, err)
			}
			if _, err := ir.Interp(m, ir.InterpOptions{}); err != nil {
				t.Fatalf("version %d: %v\n%s", i+1, err, ir.Print(m))
			}
			m, _ = ir.RandomEdit(m, r)
		}
	})
}
