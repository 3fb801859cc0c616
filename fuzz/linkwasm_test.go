package fuzz

import (
	"testing"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/wasm"
	"github.com/linkcheck/linkcheck/ref/wasmgen"
)

// wasmSeedObjects are the objects of wasmSeedProgram in 3 units, read.
func wasmSeedObjects(tb testing.TB) ([][]byte, []*wasm.Object) {
	m, err := ir.Parse("seed.lir", []byte(wasmSeedProgram))
	if err != nil {
		tb.Fatal(err)
	}
	files, err := wasmgen.BuildFiles(m, ir.Partition(m, 3), 3, func(u int) string { return "u.o" }, wasmgen.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	objs := make([]*wasm.Object, len(files))
	for i, b := range files {
		if objs[i], err = wasm.ReadObject("u.o", b); err != nil {
			tb.Fatal(err)
		}
	}
	return files, objs
}

// FuzzLinkWasm feeds arbitrary bytes, as one more object beside the seed
// program's, to the reference Wasm linker: whatever the object reader
// accepts, the linker links or refuses with an error, never a panic, and
// what it links is a module its own reader and the canonical reader take.
func FuzzLinkWasm(f *testing.F) {
	files, objs := wasmSeedObjects(f)
	for _, b := range files {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := wasm.ReadObject("fuzz.o", data)
		if err != nil {
			return
		}
		for _, in := range [][]*wasm.Object{{o}, append(append([]*wasm.Object(nil), objs[1:]...), o)} {
			l, err := wasm.Link(in, wasm.LinkOptions{})
			if err != nil {
				continue
			}
			if _, err := wasm.ReadModule("out.wasm", l.Module); err != nil {
				t.Fatalf("the linked module does not read back: %v", err)
			}
			if _, err := canon.ReadWasm(l.Module, in); err != nil {
				t.Fatalf("the canonical reader refuses the linked module: %v", err)
			}
		}
	})
}

// FuzzCanonWasm feeds arbitrary bytes to the canonical Wasm reader, with
// and without the seed program's objects: an error or an image, never a
// panic.
func FuzzCanonWasm(f *testing.F) {
	_, objs := wasmSeedObjects(f)
	l, err := wasm.Link(objs, wasm.LinkOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(l.Module)
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range [][]*wasm.Object{nil, objs} {
			im, err := canon.ReadWasm(data, in)
			if err == nil {
				_ = im.Text()
			}
		}
	})
}
