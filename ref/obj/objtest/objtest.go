// Package objtest holds object fixtures shared by the object writers' tests
// of every format: hand-built obj.Objects with raw x86_64 code, so that each
// writer is checked on the same relocations and symbols.
package objtest

import (
	"bytes"
	"encoding/binary"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// Code concatenates instruction encodings.
func Code(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// U64 is v as 8 little-endian bytes.
func U64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// Library is the second object of the writers' two-object fixture, named
// name: it defines f (which reads g through a GOTPCREL lea, a byte of a
// mergeable string and a word through a section symbol) and the global g.
func Library(name string) *obj.Object {
	f := Code(
		[]byte{0x48, 0x8d, 0x05, 0, 0, 0, 0}, //  0: lea rax, [rip+g@GOTPCREL]
		[]byte{0x48, 0x8b, 0x00},             //  7: mov rax, [rax]  (&g)
		[]byte{0x48, 0x8b, 0x00},             // 10: mov rax, [rax]  (g)
		[]byte{0x48, 0x83, 0xc0, 20},         // 13: add rax, 20
		[]byte{0x0f, 0xb6, 0x0d, 0, 0, 0, 0}, // 17: movzx ecx, byte [rip+str+1]
		[]byte{0x48, 0x01, 0xc8},             // 24: add rax, rcx
		[]byte{0x48, 0x03, 0x05, 0, 0, 0, 0}, // 27: add rax, [rip+.rodata.b+8]
		[]byte{0xc3},                         // 34: ret
	)
	return &obj.Object{
		Name: name,
		Sections: []*obj.Section{
			{Name: ".text.f", Kind: obj.Text, Align: 16, Data: f, Size: uint64(len(f)), Relocs: []obj.Reloc{
				{Offset: 3, Kind: obj.GOTPCRel32, Sym: 1, Addend: -4},
				{Offset: 20, Kind: obj.PCRel32, Sym: 2, Addend: 1 - 4},
				{Offset: 30, Kind: obj.PCRel32, Sym: 3, Addend: 8 - 4},
			}},
			{Name: ".data.g", Kind: obj.Data, Align: 8, Data: U64(5), Size: 8},
			{Name: ".rodata.str1.1", Kind: obj.ROData, Align: 1, Data: []byte("hi\x00"), Size: 3, Merge: true, Strings: true, EntSize: 1},
			{Name: ".rodata.b", Kind: obj.ROData, Align: 8, Data: Code(U64(0), U64(11)), Size: 16},
		},
		Symbols: []*obj.Symbol{
			{Name: "f", Section: 0, Size: uint64(len(f)), Bind: obj.Global, Kind: obj.SymFunc},
			{Name: "g", Section: 1, Size: 8, Bind: obj.Global, Kind: obj.SymData},
			{Name: "str", Section: 2, Bind: obj.Local, Kind: obj.SymNone},
			{Name: ".rodata.b", Section: 3, Bind: obj.Local, Kind: obj.SymSection},
		},
	}
}
