package fuzz

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/pipeline"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/fault"
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
		o, err := boundedRead(t, "wasm.ReadObject", len(data), objPerByte, func() (*wasm.Object, error) { return wasm.ReadObject("fuzz.o", data) })
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
// ReadObject. The catalogue's Wasm defects in LINKCHECK_FAULTS are
// planted in wasmgen (a campaign's selftest of this judge).
func FuzzWasmProgram(f *testing.F) {
	tools.Require(f, "wasm-ld")
	for _, in := range wasmSeeds() {
		f.Add(in.Seed, in.Funcs, in.Units)
	}
	faults, err := envFaults()
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	stats := NewStatsRecorder("FuzzWasmProgram")
	f.Cleanup(func() { _ = stats.Flush() })
	f.Fuzz(func(t *testing.T, seed int64, funcs, units uint8) {
		var tally checkTally
		if stats != nil {
			tally = checkTally{}
		}
		err := checkWasmProgram(ctx, LinkerInput{Seed: seed, Funcs: funcs, Units: units}, faults, t.TempDir(), tally)
		stats.Add(0, tally)
		if err != nil {
			t.Fatal(err)
		}
	})
}

// wasmSeeds are FuzzWasmProgram's seed inputs.
func wasmSeeds() []LinkerInput {
	var seeds []LinkerInput
	for seed := int64(1); seed <= 8; seed++ {
		seeds = append(seeds, LinkerInput{Seed: seed, Funcs: uint8(seed * 5), Units: uint8(seed)})
	}
	return seeds
}

// checkWasmProgram is FuzzWasmProgram's check of one input (the same
// shape as FuzzLinker's: a program seed, functions and units). When tally
// is not nil it counts the run against the interpreter (invariant 1).
func checkWasmProgram(ctx context.Context, in LinkerInput, faults fault.Set, dir string, tally checkTally) error {
	m := ir.Generate(ir.GenConfig{Seed: in.Seed, Funcs: 1 + int(in.Funcs%40)})
	want, err := pipeline.Expected(m)
	if err != nil {
		return fmt.Errorf("generated program has no value: %v", err)
	}
	n := 1 + int(in.Units%4)
	names, files, err := pipeline.WasmObjects(m, n, wasmgen.Options{Faults: faults})
	if err != nil {
		return err
	}
	for i, b := range files {
		if _, err := wasm.ReadObject(names[i], b); err != nil {
			return fmt.Errorf("reading wasmgen's own object: %v", err)
		}
	}
	paths, err := pipeline.WriteFiles(dir, names, files)
	if err != nil {
		return err
	}
	exe := filepath.Join(dir, "a.wasm")
	if _, err := pipeline.LinkLLD(ctx, obj.Wasm, paths, exe); err != nil {
		return err
	}
	tally.inv(1)
	if _, err := pipeline.RunWasmEngines(ctx, exe, want); err != nil {
		return fmt.Errorf("FuzzWasmProgram: seed %d, %d functions, %d units: %v\nprogram:\n%s", in.Seed, len(m.Funcs), n, err, ir.Print(m))
	}
	return nil
}

// FuzzWasmObjectModel mutates the model of a wasmgen object (symbol kinds,
// flags and indexes, relocation types, offsets, indexes and addends,
// segment fields, import kinds, function types) a few times at random:
// whatever Validate accepts, the writer must write, the reader must read
// back, and writing that again must give the same bytes. It reaches the
// consistency of Validate, writer and reader that byte mutations, which the
// reader mostly refuses early, rarely reach.
func FuzzWasmObjectModel(f *testing.F) {
	m, err := ir.Parse("seed.lir", []byte(wasmSeedProgram))
	if err != nil {
		f.Fatal(err)
	}
	files, err := wasmgen.BuildFiles(m, ir.Partition(m, 2), 2, func(u int) string { return "u.o" }, wasmgen.Options{})
	if err != nil {
		f.Fatal(err)
	}
	for seed := int64(0); seed < 16; seed++ {
		f.Add(seed, uint8(seed%4+1), seed%2 == 0)
	}
	f.Fuzz(func(t *testing.T, seed int64, n uint8, second bool) {
		base := files[0]
		if second {
			base = files[1]
		}
		o, err := wasm.ReadObject("seed.o", base)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewSource(seed))
		for i := 0; i < int(n%8)+1; i++ {
			mutateWasmObject(o, r)
		}
		if o.Validate() != nil {
			return
		}
		out, err := wasm.WriteObject(o)
		if err != nil {
			t.Fatalf("writer refused a valid object: %v", err)
		}
		back, err := wasm.ReadObject("mutated.o", out)
		if err != nil {
			t.Fatalf("reader refused the writer's output of a valid object: %v", err)
		}
		again, err := wasm.WriteObject(back)
		if err != nil {
			t.Fatalf("writing the re-read object: %v", err)
		}
		if !bytes.Equal(out, again) {
			t.Fatalf("write(read(write(o))) differs from write(o)")
		}
	})
}

// mutateWasmObject changes one field of o at random.
func mutateWasmObject(o *wasm.Object, r *rand.Rand) {
	small := func() uint32 { return uint32(r.Intn(12)) }
	var relocs []*wasm.Reloc
	for i := range o.Funcs {
		for j := range o.Funcs[i].Relocs {
			relocs = append(relocs, &o.Funcs[i].Relocs[j])
		}
	}
	for i := range o.Segments {
		for j := range o.Segments[i].Relocs {
			relocs = append(relocs, &o.Segments[i].Relocs[j])
		}
	}
	switch r.Intn(8) {
	case 0, 1:
		if len(o.Symbols) == 0 {
			return
		}
		s := &o.Symbols[r.Intn(len(o.Symbols))]
		switch r.Intn(6) {
		case 0:
			s.Kind = wasm.SymKind(r.Intn(6))
		case 1:
			s.Flags ^= 1 << uint(r.Intn(10))
		case 2:
			s.Index = small()
		case 3:
			s.Segment = small()
		case 4:
			s.Offset, s.Size = small(), small()
		case 5:
			s.Name = []string{"", "x", "main", "__stack_pointer", "_lc_err_names"}[r.Intn(5)]
		}
	case 2, 3:
		if len(relocs) == 0 {
			return
		}
		rel := relocs[r.Intn(len(relocs))]
		switch r.Intn(4) {
		case 0:
			rel.Type = wasm.RelocType(r.Intn(28))
		case 1:
			rel.Offset = uint32(r.Intn(64))
		case 2:
			rel.Index = small()
		case 3:
			rel.Addend = int32(r.Intn(64) - 32)
		}
	case 4:
		if len(o.Segments) == 0 {
			return
		}
		s := &o.Segments[r.Intn(len(o.Segments))]
		switch r.Intn(4) {
		case 0:
			s.Align = small()
		case 1:
			s.Flags = uint32(r.Intn(8))
		case 2:
			s.Passive = !s.Passive
		case 3:
			s.Offset = uint32(r.Int31()) - 1<<30
		}
	case 5:
		if len(o.Imports) == 0 {
			return
		}
		im := &o.Imports[r.Intn(len(o.Imports))]
		switch r.Intn(3) {
		case 0:
			im.Kind = wasm.ExternKind(r.Intn(4))
		case 1:
			im.Type = small()
		case 2:
			im.Name = []string{"x", "main", "__stack_pointer"}[r.Intn(3)]
		}
	case 6:
		if len(o.Funcs) > 0 {
			o.Funcs[r.Intn(len(o.Funcs))].Type = small()
		}
	case 7:
		switch r.Intn(3) {
		case 0:
			o.DataCount = !o.DataCount
		case 1:
			o.Customs = append(o.Customs, wasm.Custom{Name: "c", Data: []byte{1, 2, 3, 4, 5}, Early: r.Intn(2) == 0})
		case 2:
			if len(o.Customs) > 0 {
				o.Symbols = append(o.Symbols, wasm.Symbol{Kind: wasm.SymSection, Flags: wasm.SymBindingLocal, Index: uint32(r.Intn(len(o.Customs)))})
				o.Customs[0].Relocs = append(o.Customs[0].Relocs, wasm.Reloc{Type: wasm.RSectionOffsetI32, Offset: 0, Index: uint32(len(o.Symbols) - 1), Addend: 1})
			}
		}
	}
}
