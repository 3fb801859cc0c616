package fuzz

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/coff"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// seedCOFFObject is a small object with every relocation kind the COFF
// writer has (GOT references become .refptr cells).
func seedCOFFObject() *obj.Object {
	text := []byte{
		0xe8, 0, 0, 0, 0, // call f
		0x48, 0x8b, 0x05, 0, 0, 0, 0, // mov rax, [rip+g@GOT]
		0x48, 0x8d, 0x05, 0, 0, 0, 0, // lea rax, [rip+g@GOTPCREL]
		0x48, 0x8d, 0x05, 0, 0, 0, 0, // lea rax, [rip+s]
		0x80, 0x3d, 0, 0, 0, 0, 1, // cmp byte [rip+.rdata+1], 1
		0xc3,
	}
	data := make([]byte, 16)
	return &obj.Object{
		Name: "seed.obj",
		Sections: []*obj.Section{
			{Name: ".text.f", Kind: obj.Text, Align: 16, Data: text, Size: uint64(len(text)), Relocs: []obj.Reloc{
				{Offset: 1, Kind: obj.Branch32, Sym: 0, Addend: -4},
				{Offset: 8, Kind: obj.GOTLoad32, Sym: 1, Addend: -4},
				{Offset: 15, Kind: obj.GOTPCRel32, Sym: 2, Addend: -4},
				{Offset: 22, Kind: obj.PCRel32, Sym: 3, Addend: -4},
				{Offset: 28, Kind: obj.PCRel32, Sym: 4, Addend: 1 - 5},
			}},
			{Name: ".data.g", Kind: obj.Data, Align: 8, Data: data, Size: 16, Relocs: []obj.Reloc{
				{Offset: 0, Kind: obj.Abs64, Sym: 0},
				{Offset: 8, Kind: obj.Abs32, Sym: 2, Addend: 1},
				{Offset: 12, Kind: obj.ImageRel32, Sym: 3},
			}},
			{Name: ".rodata.s", Kind: obj.ROData, Align: 1, Data: []byte("ab\x00"), Size: 3},
			{Name: ".bss", Kind: obj.BSS, Align: 64, Size: 128},
		},
		Symbols: []*obj.Symbol{
			{Name: "f", Section: 0, Size: uint64(len(text)), Bind: obj.Global, Kind: obj.SymFunc},
			{Name: "g", Section: 1, Size: 16, Bind: obj.Global, Kind: obj.SymData},
			{Name: "a_long_external_name", Section: obj.Undef, Bind: obj.Global},
			{Name: "s", Section: 2, Bind: obj.Local, Kind: obj.SymData},
			{Name: ".rodata.s", Section: 2, Bind: obj.Local, Kind: obj.SymSection},
			{Name: "abs", Section: obj.Abs, Value: 42, Bind: obj.Global},
		},
	}
}

// FuzzReadCOFF feeds arbitrary bytes to the COFF object reader: it must
// never panic, it must be deterministic, whatever it accepts must be valid (obj.Object.Validate,
// COMDAT indexes in range), and an accepted object that the writer can
// write must read back.
func FuzzReadCOFF(f *testing.F) {
	b, err := coff.WriteObject(seedCOFFObject())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:20])
	// A header claiming huge section and symbol tables.
	huge := append([]byte(nil), b[:20]...)
	binary.LittleEndian.PutUint16(huge[2:], 0xfffe)
	binary.LittleEndian.PutUint32(huge[12:], 0xffffffff)
	f.Add(huge)
	// llvm-mc's objects of the reader's test inputs: COMDATs of every
	// kind, .refptr cells, weak externals, long and grouped names.
	for _, name := range []string{"basic.s", "comdat.s"} {
		if data := assembleFile(f, "x86_64-pc-windows-msvc", filepath.Join("..", "ref", "coff", "testdata", name)); data != nil {
			f.Add(data)
		}
	}

	// clang's: .pdata/.xdata, string-literal COMDATs, a switch table.
	if clang, err := tools.Find("clang"); err == nil {
		dir := f.TempDir()
		out := filepath.Join(dir, "table.obj")
		src := filepath.Join("..", "ref", "coff", "testdata", "table.c")
		if msg, err := exec.Command(clang.Path, "--target=x86_64-pc-windows-msvc", "-O2", "-c", "-o", out, src).CombinedOutput(); err != nil {
			f.Fatalf("clang: %v: %s", err, msg)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := boundedRead(t, "coff.Read", len(data), objPerByte, func() (*coff.File, error) { return coff.Read("fuzz.obj", data) })
		again, err2 := coff.Read("fuzz.obj", data)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) || !reflect.DeepEqual(file, again) {
			t.Fatalf("reading twice gave different results: %v / %v", err, err2)
		}
		if err != nil {
			return
		}
		o := file.Object
		if err := o.Validate(); err != nil {
			t.Fatalf("reader returned an invalid object: %v", err)
		}
		if len(file.SectionNumber) != len(o.Sections) {
			t.Fatalf("%d section numbers for %d sections", len(file.SectionNumber), len(o.Sections))
		}
		for _, c := range file.Comdats {
			if c.Section < 0 || c.Section >= len(o.Sections) || c.Leader >= len(o.Symbols) || c.Associate >= len(o.Sections) {
				t.Fatalf("COMDAT %+v out of range", c)
			}
			if (c.Selection == coff.ComdatAssociative) != (c.Associate >= 0) || (c.Selection == coff.ComdatAssociative) == (c.Leader >= 0) {
				t.Fatalf("COMDAT %+v: leader and association disagree with the selection", c)
			}
		}
		out, err := coff.WriteObject(o)
		if err != nil {
			return // weak symbols, huge alignments: limits of the writer
		}
		if _, err := coff.Read("again.obj", out); err != nil {
			t.Fatalf("reading our own output: %v", err)
		}
	})
}
