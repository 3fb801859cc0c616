package fuzz

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/wasm"
	"github.com/linkcheck/linkcheck/ref/wasmgen"
)

// wasmSeedProgram uses every construct that puts a relocation in a Wasm
// object: calls across units, function and data pointers in code and data,
// indirect calls, the error table.
const wasmSeedProgram = `errors OutOfMemory, FileNotFound
global counter = 7
global ptr = &counter
const table = &double
local func double(x) { return x * 2 }
func pick(a, b) { if a < b { return b } else { return a } }
func main() {
  let x = double(21)
  let f = &pick
  let y = call load table(4) + call f(1, 2)
  store counter, load counter + x
  return x + y + errlen(error.FileNotFound) + errbyte(error.OutOfMemory, 0)
}
`

// wasmSeedC is compiled by clang-16, when it is installed, for objects of
// another writer: debug sections with their relocations and section
// symbols, constructors, strings, bss.
const wasmSeedC = `typedef unsigned long long u64;
u64 g = 7;
u64 *pg = &g;
static int counter;
static u64 dbl(u64 x) { return x * 2; }
u64 (*fp)(u64) = dbl;
extern u64 ext(u64);
const char *msg = "hello";
__attribute__((constructor)) static void init(void) { counter = 1; }
u64 run(void) { return dbl(g) + fp(3) + *pg + ext(counter) + msg[1]; }
`

// FuzzReadWasmObject feeds arbitrary bytes to the Wasm object reader: it
// must never panic, and whatever it accepts must be valid, writable, and
// read back to an object that writes the same bytes.
func FuzzReadWasmObject(f *testing.F) {
	m, err := ir.Parse("seed.lir", []byte(wasmSeedProgram))
	if err != nil {
		f.Fatal(err)
	}
	for _, units := range []int{1, 3} {
		files, err := wasmgen.BuildFiles(m, ir.Partition(m, units), units, func(u int) string { return "u.o" }, wasmgen.Options{})
		if err != nil {
			f.Fatal(err)
		}
		for _, b := range files {
			f.Add(b)
		}
	}
	if clang, err := tools.Find("clang"); err == nil {
		dir := f.TempDir()
		src := filepath.Join(dir, "s.c")
		if err := os.WriteFile(src, []byte(wasmSeedC), 0o644); err != nil {
			f.Fatal(err)
		}
		for i, flags := range [][]string{{"-O1"}, {"-O1", "-g"}, {"-O1", "-mreference-types"}} {
			out := filepath.Join(dir, "s"+string(rune('a'+i))+".o")
			args := append([]string{"--target=wasm32", "-c", "-o", out, src}, flags...)
			if msg, err := exec.Command(clang.Path, args...).CombinedOutput(); err != nil {
				f.Fatalf("clang: %v: %s", err, msg)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))

	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := wasm.ReadObject("fuzz.o", data)
		if err != nil {
			return
		}
		if err := o.Validate(); err != nil {
			t.Fatalf("reader returned an invalid object: %v", err)
		}
		out, err := wasm.WriteObject(o)
		if err != nil {
			t.Fatalf("writer refused what the reader accepted: %v", err)
		}
		o2, err := wasm.ReadObject("again.o", out)
		if err != nil {
			t.Fatalf("reading our own output: %v", err)
		}
		out2, err := wasm.WriteObject(o2)
		if err != nil {
			t.Fatalf("writing the re-read object: %v", err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("write(read(write(o))) differs from write(o): %d vs %d bytes", len(out2), len(out))
		}
	})
}

// FuzzWasmProgram builds a generated program (1 to 40 functions, drawn
// from the seed) into 1 to 4 units with ref/wasmgen, links the objects
// with wasm-ld and runs the module under both wazero engines: each must
// compute the interpreter's value, and every object must read back with
// ReadObject.
func FuzzWasmProgram(f *testing.F) {
	tools.Require(f, "wasm-ld")
	for seed := int64(1); seed <= 8; seed++ {
		f.Add(seed, uint8(seed*5), uint8(seed))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, seed int64, funcs, units uint8) {
		m := ir.Generate(ir.GenConfig{Seed: seed, Funcs: 1 + int(funcs%40)})
		want, err := pipeline.Expected(m)
		if err != nil {
			t.Fatalf("generated program has no value: %v", err)
		}
		n := 1 + int(units%4)
		dir := t.TempDir()
		names, files, err := pipeline.WasmObjects(m, n, wasmgen.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for i, b := range files {
			if _, err := wasm.ReadObject(names[i], b); err != nil {
				t.Fatalf("reading wasmgen's own object: %v", err)
			}
		}
		paths, err := pipeline.WriteFiles(dir, names, files)
		if err != nil {
			t.Fatal(err)
		}
		exe := filepath.Join(dir, "a.wasm")
		if _, err := pipeline.LinkLLD(ctx, obj.Wasm, paths, exe); err != nil {
			t.Fatal(err)
		}
		if _, err := pipeline.RunWasmEngines(ctx, exe, want); err != nil {
			t.Fatalf("seed %d, %d functions, %d units:\n%s\n%v", seed, len(m.Funcs), n, ir.Print(m), err)
		}
	})
}
