package fuzz

import (
	"encoding/binary"
	"testing"

	"github.com/linkcheck/linkcheck/ref/macho"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// seedMachOObject is a small object with every relocation kind the
// Mach-O writer has, a C string atom and a zerofill atom.
func seedMachOObject() *obj.Object {
	text := []byte{
		0xe8, 0, 0, 0, 0, // call f
		0x48, 0x8b, 0x05, 0, 0, 0, 0, // mov rax, [rip+g@GOT]
		0x48, 0x8d, 0x05, 0, 0, 0, 0, // lea rax, [rip+g@GOTPCREL]
		0x48, 0x8d, 0x05, 0, 0, 0, 0, // lea rax, [rip+s]
		0x80, 0x3d, 0, 0, 0, 0, 1, // cmp byte [rip+s+1], 1
		0xc3,
	}
	return &obj.Object{
		Name: "seed.o",
		Sections: []*obj.Section{
			{Name: ".text.f", Kind: obj.Text, Align: 16, Data: text, Size: uint64(len(text)), Relocs: []obj.Reloc{
				{Offset: 1, Kind: obj.Branch32, Sym: 0, Addend: -4},
				{Offset: 8, Kind: obj.GOTLoad32, Sym: 1, Addend: -4},
				{Offset: 15, Kind: obj.GOTPCRel32, Sym: 2, Addend: -4},
				{Offset: 22, Kind: obj.PCRel32, Sym: 3, Addend: -4},
				{Offset: 28, Kind: obj.PCRel32, Sym: 3, Addend: 1 - 5},
			}},
			{Name: ".data.g", Kind: obj.Data, Align: 8, Data: make([]byte, 16), Size: 16, Relocs: []obj.Reloc{
				{Offset: 0, Kind: obj.Abs64, Sym: 0},
				{Offset: 8, Kind: obj.Abs64, Sym: 4, Addend: 8},
			}},
			{Name: ".rodata.str1.1", Kind: obj.ROData, Align: 1, Data: []byte("ab\x00"), Size: 3, Merge: true, Strings: true, EntSize: 1},
			{Name: ".rodata.k", Kind: obj.ROData, Align: 8, Data: make([]byte, 16), Size: 16},
			{Name: ".bss", Kind: obj.BSS, Align: 64, Size: 128},
		},
		Symbols: []*obj.Symbol{
			{Name: "f", Section: 0, Size: uint64(len(text)), Bind: obj.Global, Kind: obj.SymFunc},
			{Name: "g", Section: 1, Size: 16, Bind: obj.Global, Kind: obj.SymData},
			{Name: "ext", Section: obj.Undef, Bind: obj.Weak},
			{Name: "s", Section: 2, Bind: obj.Local, Kind: obj.SymData},
			{Name: ".rodata.k", Section: 3, Bind: obj.Local, Kind: obj.SymSection},
			{Name: "abs", Section: obj.Abs, Value: 42, Bind: obj.Global},
			{Name: "b", Section: 4, Bind: obj.Local, Kind: obj.SymData},
		},
	}
}

// seedMachOAsm is assembled by llvm-mc, when it is installed, for seeds
// with another writer's layout: section-relative relocations into C string
// and literal sections, a SUBTRACTOR pair, private labels.
const seedMachOAsm = `.subsections_via_symbols
.text
.globl __start
__start: call _f
 movq _g@GOTPCREL(%rip), %rax
 leaq L_.str(%rip), %rcx
 movsd Llit(%rip), %xmm0
 leaq l_tab(%rip), %rdx
 ret
.cstring
L_.str: .asciz "x"
.literal8
Llit: .quad 1
.section __TEXT,__const
l_tab: .long __start - l_tab
.data
.globl _g
_g: .quad __start
 .quad L_.str
.zerofill __DATA,__bss,_z,16,4
`

// FuzzReadMachO feeds arbitrary bytes to the Mach-O object reader: it must
// never panic, whatever it accepts must be valid, and the writer must
// write it (unless it has a GOT reference with an addend, which the writer
// refuses) and the reader read that again.
func FuzzReadMachO(f *testing.F) {
	b, err := macho.WriteObject(seedMachOObject())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:32])
	base := b // the object that inputs patch: llvm-mc's when there is one
	if data := assembleText(f, "x86_64-apple-macos11", seedMachOAsm); data != nil {
		f.Add(data)
		base = data
	}
	// A header claiming a huge load command area and many commands.
	huge := append([]byte(nil), b[:32]...)
	binary.LittleEndian.PutUint32(huge[16:], 0xffffffff)
	binary.LittleEndian.PutUint32(huge[20:], 0xffffffff)
	f.Add(huge)

	check := func(t *testing.T, data []byte) {
		o, err := boundedRead(t, "macho.ReadObject", len(data), objPerByte, func() (*obj.Object, error) { return macho.ReadObject("fuzz.o", data) })
		if err != nil {
			return
		}
		if err := o.Validate(); err != nil {
			t.Fatalf("reader returned an invalid object: %v", err)
		}
		out, err := macho.WriteObject(o)
		if err != nil {
			if gotAddend(o) {
				return // the writer writes GOT references without an addend only
			}
			t.Fatalf("writer refused what the reader accepted: %v", err)
		}
		if _, err := macho.ReadObject("again.o", out); err != nil {
			t.Fatalf("reading our own output: %v", err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		check(t, data)
		// The input is also a list of byte patches (4-byte offset, value)
		// to a seed object, which reaches deeper than random bytes.
		patched := append([]byte(nil), base...)
		for i := 0; i+5 <= len(data); i += 5 {
			patched[binary.LittleEndian.Uint32(data[i:])%uint32(len(patched))] = data[i+4]
		}
		check(t, patched)
	})
}

// gotAddend reports whether o has a GOT reference with an addend other
// than -4 (clang writes them; WriteObject does not yet).
func gotAddend(o *obj.Object) bool {
	for _, s := range o.Sections {
		for _, r := range s.Relocs {
			if r.Kind.UsesGOT() && r.Addend != -4 {
				return true
			}
		}
	}
	return false
}
