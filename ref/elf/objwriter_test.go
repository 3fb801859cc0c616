package elf

import (
	"bytes"
	"context"
	stdelf "debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/obj/objtest"
	"github.com/stretchr/testify/require"
)

// The fixture is a two-object program. a.o's _start calls f in b.o
// (Branch32), loads g through the GOT (GOTLoad32, REX form), adds a local
// const k (PCRel32), stores into a BSS word res, calls h through the
// function pointer fp (data holding an Abs64 to h, a 64-byte aligned local
// function), and writes res to stdout. b.o's f returns g + 20 + "hi"[1] +
// 11, reading g through its GOT slot with GOTPCRel32 (lea of the slot), the
// string through a local symbol of a mergeable string section and 11
// through the section symbol of .rodata.b.
//
//	f = 5 + 20 + 'i'(105) + 11 = 141; res = 141 + 5 + 1000 = 1146; + h() 300 = 1446
const fixtureValue = 1446

// fixtureA is the object with the entry point.
func fixtureA() *obj.Object {
	start := objtest.Code(
		[]byte{0xe8, 0, 0, 0, 0},             //  0: call f
		[]byte{0x48, 0x8b, 0x0d, 0, 0, 0, 0}, //  5: mov rcx, [rip+g@GOT]
		[]byte{0x48, 0x03, 0x01},             // 12: add rax, [rcx]
		[]byte{0x48, 0x03, 0x05, 0, 0, 0, 0}, // 15: add rax, [rip+k]
		[]byte{0x48, 0x89, 0x05, 0, 0, 0, 0}, // 22: mov [rip+res], rax
		[]byte{0xff, 0x15, 0, 0, 0, 0},       // 29: call [rip+fp]
		[]byte{0x48, 0x01, 0x05, 0, 0, 0, 0}, // 35: add [rip+res], rax
		[]byte{0xb8, 1, 0, 0, 0},             // 42: mov eax, 1
		[]byte{0xbf, 1, 0, 0, 0},             // 47: mov edi, 1
		[]byte{0x48, 0x8d, 0x35, 0, 0, 0, 0}, // 52: lea rsi, [rip+res]
		[]byte{0xba, 8, 0, 0, 0},             // 59: mov edx, 8
		[]byte{0x0f, 0x05},                   // 64: syscall
		[]byte{0xb8, 60, 0, 0, 0},            // 66: mov eax, 60
		[]byte{0x31, 0xff},                   // 71: xor edi, edi
		[]byte{0x0f, 0x05},                   // 73: syscall
	)
	h := []byte{0xb8, 0x2c, 0x01, 0, 0, 0xc3} // mov eax, 300; ret
	const (
		sStart, sK, sFp, sH, sRes, sF, sG = 0, 1, 2, 3, 4, 5, 6
	)
	return &obj.Object{
		Name: "a.o",
		Sections: []*obj.Section{
			{Name: ".text._start", Kind: obj.Text, Align: 16, Data: start, Size: uint64(len(start)), Relocs: []obj.Reloc{
				{Offset: 1, Kind: obj.Branch32, Sym: sF, Addend: -4},
				{Offset: 8, Kind: obj.GOTLoad32, Sym: sG, Addend: -4},
				{Offset: 18, Kind: obj.PCRel32, Sym: sK, Addend: -4},
				{Offset: 25, Kind: obj.PCRel32, Sym: sRes, Addend: -4},
				{Offset: 31, Kind: obj.PCRel32, Sym: sFp, Addend: -4},
				{Offset: 38, Kind: obj.PCRel32, Sym: sRes, Addend: -4},
				{Offset: 55, Kind: obj.PCRel32, Sym: sRes, Addend: -4},
			}},
			{Name: ".rodata.k", Kind: obj.ROData, Align: 8, Data: objtest.U64(1000), Size: 8},
			{Name: ".data.fp", Kind: obj.Data, Align: 8, Data: objtest.U64(0), Size: 8, Relocs: []obj.Reloc{
				{Offset: 0, Kind: obj.Abs64, Sym: sH},
			}},
			{Name: ".text.h", Kind: obj.Text, Align: 64, Data: h, Size: uint64(len(h))},
			{Name: ".bss.res", Kind: obj.BSS, Align: 8, Size: 8},
		},
		Symbols: []*obj.Symbol{
			sStart: {Name: "_start", Section: 0, Size: uint64(len(start)), Bind: obj.Global, Kind: obj.SymFunc},
			sK:     {Name: "k", Section: 1, Size: 8, Bind: obj.Local, Kind: obj.SymData},
			sFp:    {Name: "fp", Section: 2, Size: 8, Bind: obj.Global, Kind: obj.SymData},
			sH:     {Name: "h", Section: 3, Size: uint64(len(h)), Bind: obj.Local, Kind: obj.SymFunc},
			sRes:   {Name: "res", Section: 4, Size: 8, Bind: obj.Local, Kind: obj.SymData},
			sF:     {Name: "f", Section: obj.Undef, Bind: obj.Global},
			sG:     {Name: "g", Section: obj.Undef, Bind: obj.Global},
		},
	}
}

// fixtureAsm is fixtureA and objtest.Library as llvm-mc assembly.
const fixtureAsmA = `.intel_syntax noprefix
.section .text._start,"ax",@progbits
.globl _start
.p2align 4
_start:
 call f
 mov rcx, qword ptr [rip + g@GOTPCREL]
 add rax, qword ptr [rcx]
 add rax, qword ptr [rip + k]
 mov qword ptr [rip + res], rax
 call qword ptr [rip + fp]
 add qword ptr [rip + res], rax
 mov eax, 1
 mov edi, 1
 lea rsi, [rip + res]
 mov edx, 8
 syscall
 mov eax, 60
 xor edi, edi
 syscall
.section .rodata.k,"a",@progbits
.p2align 3
k: .quad 1000
.section .data.fp,"aw",@progbits
.p2align 3
.globl fp
fp: .quad h
.section .text.h,"ax",@progbits
.p2align 6
h: mov eax, 300
 ret
.section .bss.res,"aw",@nobits
.p2align 3
res: .zero 8
`

const fixtureAsmB = `.intel_syntax noprefix
.section .text.f,"ax",@progbits
.globl f
.p2align 4
f:
 lea rax, [rip + g@GOTPCREL]
 mov rax, qword ptr [rax]
 mov rax, qword ptr [rax]
 add rax, 20
 movzx ecx, byte ptr [rip + str + 1]
 add rax, rcx
 add rax, qword ptr [rip + .rodata.b + 8]
 ret
.section .data.g,"aw",@progbits
.p2align 3
.globl g
g: .quad 5
.section .rodata.str1.1,"aMS",@progbits,1
str: .asciz "hi"
.section .rodata.b,"a",@progbits
.p2align 3
.quad 0, 11
`

func run(t *testing.T, dir, prog string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	require.NoError(t, err, "%s %s: %s", prog, strings.Join(args, " "), errb.String())
	return out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, data, 0o644))
	return p
}

func TestWriteObjectReadobj(t *testing.T) {
	readobj := tools.Require(t, "llvm-readobj")
	dir := t.TempDir()
	tests := []struct {
		o    *obj.Object
		want []string
	}{
		{fixtureA(), []string{
			"0x1 R_X86_64_PLT32 f 0xFFFFFFFFFFFFFFFC",
			"0x8 R_X86_64_REX_GOTPCRELX g 0xFFFFFFFFFFFFFFFC",
			"0x12 R_X86_64_PC32 k 0xFFFFFFFFFFFFFFFC",
			"0x19 R_X86_64_PC32 res 0xFFFFFFFFFFFFFFFC",
			"0x0 R_X86_64_64 h 0x0",
			"Name: .note.GNU-stack",
			"Type: SHT_NOBITS",
			"AddressAlignment: 64",
		}},
		{objtest.Library("b.o"), []string{
			"0x3 R_X86_64_GOTPCREL g 0xFFFFFFFFFFFFFFFC",
			"0x14 R_X86_64_PC32 str 0xFFFFFFFFFFFFFFFD",
			"0x1E R_X86_64_PC32 .rodata.b 0x4",
			"SHF_MERGE (0x10)",
			"SHF_STRINGS (0x20)",
			"EntrySize: 1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.o.Name, func(t *testing.T) {
			b, err := WriteObject(tt.o)
			require.NoError(t, err)
			p := writeFile(t, dir, tt.o.Name, b)
			out, stderr := run(t, dir, readobj.Path, "--sections", "--relocations", "--symbols", p)
			require.Empty(t, stderr)
			require.NotContains(t, strings.ToLower(out), "warning")
			require.NotContains(t, strings.ToLower(out), "error")
			for _, w := range tt.want {
				require.Contains(t, out, w)
			}
			// The standard library agrees on the basics too.
			f, err := stdelf.NewFile(bytes.NewReader(b))
			require.NoError(t, err)
			syms, err := f.Symbols()
			require.NoError(t, err)
			for _, s := range syms {
				if stdelf.ST_BIND(s.Info) == stdelf.STB_LOCAL {
					continue
				}
				require.Equal(t, stdelf.STB_GLOBAL, stdelf.ST_BIND(s.Info), s.Name)
			}
			symtab := f.Section(".symtab")
			nlocal := 1
			for _, s := range syms {
				if stdelf.ST_BIND(s.Info) == stdelf.STB_LOCAL {
					nlocal++
				}
			}
			require.Equal(t, uint32(nlocal), symtab.Info, "sh_info of .symtab is one past the last local")
		})
	}
}

// TestLinkAndRun links the fixture with ld.lld and runs it natively.
func TestLinkAndRun(t *testing.T) {
	lld := tools.Require(t, "ld.lld")
	dir := t.TempDir()
	a, err := WriteObject(fixtureA())
	require.NoError(t, err)
	b, err := WriteObject(objtest.Library("b.o"))
	require.NoError(t, err)
	pa := writeFile(t, dir, "a.o", a)
	pb := writeFile(t, dir, "b.o", b)
	out := filepath.Join(dir, "out")
	stdout, stderr := run(t, dir, lld.Path, "-e", "_start", "-o", out, pa, pb)
	require.Empty(t, stdout+stderr, "ld.lld printed warnings")
	stdout, _ = run(t, dir, out)
	require.Len(t, stdout, 8)
	require.Equal(t, uint64(fixtureValue), binary.LittleEndian.Uint64([]byte(stdout)))
}

// TestLLVMMCAgrees assembles the fixture with llvm-mc and checks that
// llvm-mc's relocations are ours, relocation by relocation, once
// references to local symbols are normalized to section+offset (llvm-mc
// refers to a section symbol where we keep the local symbol).
func TestLLVMMCAgrees(t *testing.T) {
	mc := tools.Require(t, "llvm-mc")
	dir := t.TempDir()
	for _, tt := range []struct {
		o   *obj.Object
		asm string
	}{{fixtureA(), fixtureAsmA}, {objtest.Library("b.o"), fixtureAsmB}} {
		t.Run(tt.o.Name, func(t *testing.T) {
			src := writeFile(t, dir, tt.o.Name+".s", []byte(tt.asm))
			out := filepath.Join(dir, tt.o.Name+".mc.o")
			run(t, dir, mc.Path, "-triple", "x86_64-linux-gnu", "-filetype=obj", "-o", out, src)
			data, err := os.ReadFile(out)
			require.NoError(t, err)
			theirs, err := ReadObject(out, data)
			require.NoError(t, err)
			mine, err := WriteObject(tt.o)
			require.NoError(t, err)
			ours, err := ReadObject(tt.o.Name, mine)
			require.NoError(t, err)
			require.Equal(t, relocSummary(theirs), relocSummary(ours))
			// The raw ELF types agree too (REX_GOTPCRELX vs GOTPCRELX).
			require.Equal(t, rawRelocTypes(t, data), rawRelocTypes(t, mine))
			for _, s := range ours.Sections {
				ts := findSection(theirs, s.Name)
				require.NotNil(t, ts, s.Name)
				require.Equal(t, s.Data, ts.Data, s.Name)
				require.Equal(t, s.Kind, ts.Kind, s.Name)
				require.Equal(t, s.Align, ts.Align, s.Name)
			}
		})
	}
}

func findSection(o *obj.Object, name string) *obj.Section {
	for _, s := range o.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// relocSummary renders every relocation with its target normalized: a
// local defined symbol becomes section+offset, anything else its name.
func relocSummary(o *obj.Object) []string {
	var out []string
	for _, s := range o.Sections {
		for _, r := range s.Relocs {
			sym := o.Symbols[r.Sym]
			target := sym.Name
			addend := r.Addend
			if sym.Bind == obj.Local && sym.Section >= 0 {
				target = o.Sections[sym.Section].Name
				addend += int64(sym.Value)
			}
			out = append(out, fmt.Sprintf("%s+%#x %s %s%+d", s.Name, r.Offset, r.Kind, target, addend))
		}
	}
	sort.Strings(out)
	return out
}

// rawRelocTypes lists section, offset and ELF type of every relocation,
// decoded with debug/elf independently of ReadObject.
func rawRelocTypes(t *testing.T, data []byte) []string {
	f, err := stdelf.NewFile(bytes.NewReader(data))
	require.NoError(t, err)
	var out []string
	for _, s := range f.Sections {
		if s.Type != stdelf.SHT_RELA {
			continue
		}
		b, err := s.Data()
		require.NoError(t, err)
		for i := 0; i+24 <= len(b); i += 24 {
			typ := stdelf.R_X86_64(stdelf.R_TYPE64(binary.LittleEndian.Uint64(b[i+8:])))
			out = append(out, fmt.Sprintf("%s+%#x %v", f.Sections[s.Info].Name, binary.LittleEndian.Uint64(b[i:]), typ))
		}
	}
	sort.Strings(out)
	return out
}

// TestWriteObjectKeepsGroups: an object read from llvm-mc's output with
// COMDAT groups (signed by a symbol, or by a section's symbol) and an
// .eh_frame is written back with its groups (SHF_GROUP members, their
// relocation sections in the group) and its .eh_frame as
// SHT_X86_64_UNWIND; reading it again gives the same model, and
// llvm-readobj reads the groups.
func TestWriteObjectKeepsGroups(t *testing.T) {
	src := `
	.section .text.inl,"axG",@progbits,inl,comdat
	.weak inl
inl:
	.cfi_startproc
	call other
	ret
	.cfi_endproc
	.section .rodata.k,"aG",@progbits,.rodata.k,comdat
	.byte 7
	.text
	.globl _start
_start:
	call inl
	ret
`
	o, err := ReadObject("a.o", assemble(t, src))
	require.NoError(t, err)
	groups := map[string]string{}
	for _, s := range o.Sections {
		groups[s.Name] = s.Group
	}
	require.Equal(t, "inl", groups[".text.inl"])
	require.Equal(t, ".rodata.k", groups[".rodata.k"])
	b, err := WriteObject(o)
	require.NoError(t, err)
	back, err := ReadObject("a.o", b)
	require.NoError(t, err)
	require.Equal(t, len(o.Sections), len(back.Sections))
	for i, s := range o.Sections {
		require.Equal(t, s.Group, back.Sections[i].Group, s.Name)
		require.Equal(t, s.EHFrame, back.Sections[i].EHFrame, s.Name)
		require.Equal(t, s.Relocs, back.Sections[i].Relocs, s.Name)
	}
	readobj := tools.Require(t, "llvm-readobj")
	p := filepath.Join(t.TempDir(), "a.o")
	require.NoError(t, os.WriteFile(p, b, 0o644))
	out, err := exec.Command(readobj.Path, "--section-groups", "-S", p).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "Signature: inl")
	// A group signed by its section's symbol: no name in llvm-readobj's
	// listing, as in llvm-mc's own object.
	require.Regexp(t, `Section\(s\) in group \[\s+\.rodata\.k \(`, string(out))
	require.Contains(t, string(out), ".rela.text.inl")
	require.Contains(t, string(out), "SHT_X86_64_UNWIND")
}

// TestWriteObjectSignsUnnamedGroup: a group whose signature no symbol of
// the model names (the reader took it from a symbol it drops, an
// STT_FILE say) is signed by a local absolute symbol of that name, so the
// written object reads back with the group.
func TestWriteObjectSignsUnnamedGroup(t *testing.T) {
	o := &obj.Object{Name: "g.o",
		Sections: []*obj.Section{{Name: ".text.g", Kind: obj.Text, Align: 1, Data: []byte{0xc3}, Size: 1, Group: "nosym"}},
		Symbols:  []*obj.Symbol{{Name: "g", Kind: obj.SymFunc, Bind: obj.Global, Section: 0, Size: 1}},
	}
	b, err := WriteObject(o)
	require.NoError(t, err)
	back, err := ReadObject("g.o", b)
	require.NoError(t, err)
	require.Equal(t, "nosym", back.Sections[0].Group)
	require.Equal(t, "g", back.Symbols[len(back.Symbols)-1].Name)
}
