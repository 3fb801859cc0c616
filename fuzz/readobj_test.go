package fuzz

import (
	"encoding/binary"
	"testing"

	"github.com/linkcheck/linkcheck/ref/elf"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// seedObject is a small object exercising every relocation kind ELF has.
func seedObject() *obj.Object {
	text := []byte{
		0xe8, 0, 0, 0, 0, // call f
		0x48, 0x8b, 0x05, 0, 0, 0, 0, // mov rax, [rip+g@GOT]
		0x48, 0x8d, 0x05, 0, 0, 0, 0, // lea rax, [rip+g@GOTPCREL]
		0x48, 0x8d, 0x05, 0, 0, 0, 0, // lea rax, [rip+s]
		0xc3,
	}
	data := make([]byte, 16)
	return &obj.Object{
		Name: "seed.o",
		Sections: []*obj.Section{
			{Name: ".text.f", Kind: obj.Text, Align: 16, Data: text, Size: uint64(len(text)), Relocs: []obj.Reloc{
				{Offset: 1, Kind: obj.Branch32, Sym: 0, Addend: -4},
				{Offset: 8, Kind: obj.GOTLoad32, Sym: 1, Addend: -4},
				{Offset: 15, Kind: obj.GOTPCRel32, Sym: 1, Addend: -4},
				{Offset: 22, Kind: obj.PCRel32, Sym: 3, Addend: -4},
			}},
			{Name: ".data.g", Kind: obj.Data, Align: 8, Data: data, Size: 16, Relocs: []obj.Reloc{
				{Offset: 0, Kind: obj.Abs64, Sym: 0},
				{Offset: 8, Kind: obj.Abs32, Sym: 2, Addend: 1},
				{Offset: 12, Kind: obj.Abs32S, Sym: 4},
			}},
			{Name: ".rodata.str1.1", Kind: obj.ROData, Align: 1, Data: []byte("ab\x00"), Size: 3, Merge: true, Strings: true, EntSize: 1},
			{Name: ".bss", Kind: obj.BSS, Align: 64, Size: 128},
		},
		Symbols: []*obj.Symbol{
			{Name: "f", Section: 0, Size: uint64(len(text)), Bind: obj.Global, Kind: obj.SymFunc},
			{Name: "g", Section: 1, Size: 16, Bind: obj.Global, Kind: obj.SymData},
			{Name: "ext", Section: obj.Undef, Bind: obj.Weak},
			{Name: "s", Section: 2, Bind: obj.Local},
			{Name: ".bss", Section: 3, Bind: obj.Local, Kind: obj.SymSection},
			{Name: "abs", Section: obj.Abs, Value: 42, Bind: obj.Global},
		},
	}
}

// seedAsm is assembled by llvm-mc, when it is installed, for more seeds
// with another writer's layout (section symbols, .comment, .llvm_addrsig).
const seedAsm = `.text
.globl _start
_start: call f
 movq g@GOTPCREL(%rip), %rax
 leaq k(%rip), %rcx
 ret
.section .rodata.str1.1,"aMS",@progbits,1
k: .asciz "x"
.data
.globl g
g: .quad _start
.bss
.zero 16
`

// seedELFFeaturesAsm is an object with the ELF features beyond the core:
// .tdata/.tbss and the TLS relocations, STT_GNU_IFUNC, NAME@@VER, writable
// code, R_X86_64_8/16/PC8/PC16/PC64/SIZE32/SIZE64/GOTPC32/GOTOFF64.
const seedELFFeaturesAsm = `
.text
.globl _start
_start:
movl %fs:a@tpoff, %eax
movq b@gottpoff(%rip), %rcx
data16 leaq a@tlsgd(%rip), %rdi
data16 data16 rex64 call __tls_get_addr@PLT
leaq b@tlsld(%rip), %rdi
call __tls_get_addr@PLT
leaq b@dtpoff(%rax), %rcx
call ifn
movl $a@SIZE, %eax
leaq _GLOBAL_OFFSET_TABLE_(%rip), %rbx
movabsq $d@GOTOFF, %rcx
.type ifn, @gnu_indirect_function
ifn: ret
.globl f_v2
.symver f_v2, f@@V2
f_v2: ret
.section .wx,"awx",@progbits
nop
.section .tdata,"awT",@progbits
.globl a
.type a,@object
.size a,4
a: .long 1
.section .tbss,"awT",@nobits
b: .zero 8
.data
d: .byte d
.word d
.byte d - .
.word d - .
.quad d - .
.quad a@dtpoff
`

// FuzzReadELF feeds arbitrary bytes to the ELF object reader: it must never
// panic, and whatever it accepts must be valid, writable and readable again.
func FuzzReadELF(f *testing.F) {
	b, err := elf.WriteObject(seedObject())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:64])
	if data := assembleText(f, "x86_64-linux-gnu", seedAsm); data != nil {
		f.Add(data)
	}
	// Thread-local storage, an indirect function, a symbol version and
	// the small relocation kinds (docs/elf.md).
	if data := assembleText(f, "x86_64-linux-gnu", seedELFFeaturesAsm); data != nil {
		f.Add(data)
	}
	// COMDAT groups and .eh_frame (a CIE, FDEs, a personality).
	if data := assembleText(f, "x86_64-linux-gnu", seedGroupsEHAsm); data != nil {
		f.Add(data)
	}
	// A header claiming a huge section table.
	huge := append([]byte(nil), b[:64]...)
	binary.LittleEndian.PutUint16(huge[60:], 0xffff)
	f.Add(huge)

	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := boundedRead(t, "elf.ReadObject", len(data), objPerByte, func() (*obj.Object, error) { return elf.ReadObject("fuzz.o", data) })
		if err != nil {
			return
		}
		if err := o.Validate(); err != nil {
			t.Fatalf("reader returned an invalid object: %v", err)
		}
		out, err := elf.WriteObject(o)
		if err != nil {
			// The reader accepts objects the writer refuses only for
			// limits of the writer; none are known.
			t.Fatalf("writer refused what the reader accepted: %v", err)
		}
		if _, err := elf.ReadObject("again.o", out); err != nil {
			t.Fatalf("reading our own output: %v", err)
		}
	})
}

// seedGroupsEHAsm has two COMDAT groups (signed by a symbol and by a
// section) and call frame information for three functions.
const seedGroupsEHAsm = `
	.section .text.inl,"axG",@progbits,inl,comdat
	.weak inl
inl:
	.cfi_startproc
	call f
	ret
	.cfi_endproc
	.section .rodata.k,"aG",@progbits,.rodata.k,comdat
	.byte 7
	.text
	.globl f
f:
	.cfi_startproc
	.cfi_personality 0x3, f
	pushq %rbp
	.cfi_def_cfa_offset 16
	popq %rbp
	.cfi_def_cfa_offset 8
	ret
	.cfi_endproc
g:
	.cfi_startproc
	ret
	.cfi_endproc
`
