package coff

import (
	"bytes"
	"context"
	"debug/pe"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
// function), and returns res (the Windows entry protocol). b.o's f returns g + 20 + "hi"[1] +
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
		[]byte{0x48, 0x8b, 0x05, 0, 0, 0, 0}, // 42: mov rax, [rip+res]
		[]byte{0xc3},                         // 49: ret
	)
	h := []byte{0xb8, 0x2c, 0x01, 0, 0, 0xc3} // mov eax, 300; ret
	const (
		sStart, sK, sFp, sH, sRes, sF, sG = 0, 1, 2, 3, 4, 5, 6
	)
	return &obj.Object{
		Name: "a.obj",
		Sections: []*obj.Section{
			{Name: ".text._start", Kind: obj.Text, Align: 16, Data: start, Size: uint64(len(start)), Relocs: []obj.Reloc{
				{Offset: 1, Kind: obj.Branch32, Sym: sF, Addend: -4},
				{Offset: 8, Kind: obj.GOTLoad32, Sym: sG, Addend: -4},
				{Offset: 18, Kind: obj.PCRel32, Sym: sK, Addend: -4},
				{Offset: 25, Kind: obj.PCRel32, Sym: sRes, Addend: -4},
				{Offset: 31, Kind: obj.PCRel32, Sym: sFp, Addend: -4},
				{Offset: 38, Kind: obj.PCRel32, Sym: sRes, Addend: -4},
				{Offset: 45, Kind: obj.PCRel32, Sym: sRes, Addend: -4},
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

// The fixture as llvm-mc assembly for x86_64-pc-windows-msvc, with the
// pointer cells written out as COMDATs in .rdata$.refptr. Each atom with relocations is
// first in its section, so offsets match ours.
const fixtureAsmA = `.intel_syntax noprefix
.text
.globl _start
.p2align 4
_start:
 call f
 mov rcx, qword ptr [rip + .refptr.g]
 add rax, qword ptr [rcx]
 add rax, qword ptr [rip + k]
 mov qword ptr [rip + res], rax
 call qword ptr [rip + fp]
 add qword ptr [rip + res], rax
 mov rax, qword ptr [rip + res]
 ret
.p2align 6
h: mov eax, 300
 ret
.section .rdata,"dr"
.p2align 3
k: .quad 1000
.data
.p2align 3
.globl fp
fp: .quad h
.bss
.p2align 3
res: .zero 8
.section .rdata$.refptr,"dr",discard,.refptr.g
.p2align 3
.globl .refptr.g
.refptr.g: .quad g
`

const fixtureAsmB = `.intel_syntax noprefix
.text
.globl f
.p2align 4
f:
 lea rax, [rip + .refptr.g]
 mov rax, qword ptr [rax]
 mov rax, qword ptr [rax]
 add rax, 20
 movzx ecx, byte ptr [rip + str + 1]
 add rax, rcx
 add rax, qword ptr [rip + b + 8]
 ret
.data
.globl g
.p2align 3
g: .quad 5
.section .rdata,"dr"
str: .asciz "hi"
.p2align 3
b: .quad 0, 11
.section .rdata$.refptr,"dr",discard,.refptr.g
.p2align 3
.globl .refptr.g
.refptr.g: .quad g
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
	require.NoError(t, err, "%s %s: %s%s", prog, strings.Join(args, " "), out.String(), errb.String())
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
			"0x1 IMAGE_REL_AMD64_REL32 f (",
			"0x8 IMAGE_REL_AMD64_REL32 .refptr.g (",
			"0x12 IMAGE_REL_AMD64_REL32 k (",
			"0x0 IMAGE_REL_AMD64_ADDR64 h (",
			"0x0 IMAGE_REL_AMD64_ADDR64 g (",
			"IMAGE_SCN_ALIGN_64BYTES",
			"IMAGE_SCN_CNT_UNINITIALIZED_DATA",
			"StorageClass: External (0x2)",
			"AuxSectionDef {",
		}},
		{objtest.Library("b.obj"), []string{
			"0x3 IMAGE_REL_AMD64_REL32 .refptr.g (",
			"0x14 IMAGE_REL_AMD64_REL32 str (",
			"0x1E IMAGE_REL_AMD64_REL32 .rdata (",
			"Name: .rodata.b",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.o.Name, func(t *testing.T) {
			b, err := WriteObject(tt.o)
			require.NoError(t, err)
			p := writeFile(t, dir, tt.o.Name, b)
			out, stderr := run(t, dir, readobj.Path, "--file-headers", "--sections", "--relocations", "--symbols", p)
			require.Empty(t, stderr)
			require.NotContains(t, strings.ToLower(out), "warning")
			require.NotContains(t, strings.ToLower(out), "error")
			require.Contains(t, out, "IMAGE_FILE_MACHINE_AMD64")
			for _, w := range tt.want {
				if w == "Name: .rodata.b" {
					continue // obj names are not kept: sections are named by kind
				}
				require.Contains(t, out, w)
			}
			// debug/pe reads it.
			f, err := pe.NewFile(bytes.NewReader(b))
			require.NoError(t, err)
			for _, s := range f.Sections {
				require.Contains(t, []string{".text", ".rdata", ".data", ".bss", GOTSection}, s.Name)
			}
		})
	}
}

func TestWriteObjectErrors(t *testing.T) {
	o := fixtureA()
	o.Sections[2].Relocs[0].Kind = obj.Abs32S
	_, err := WriteObject(o)
	require.ErrorContains(t, err, "a.obj: section .data.fp: reloc 0 at offset 0x0: relocation kind abs32s has no COFF x86_64 equivalent")

	o = fixtureA()
	o.Symbols[2].Bind = obj.Weak
	_, err = WriteObject(o)
	require.ErrorContains(t, err, `a.obj: symbol "fp": weak symbols are not supported`)

	o = fixtureA()
	o.Sections[3].Align = 16384
	_, err = WriteObject(o)
	require.ErrorContains(t, err, "alignment 16384 exceeds")
}

var (
	funcLine = regexp.MustCompile(`^([0-9a-f]+) <([^>]+)>:$`)
	insnLine = regexp.MustCompile(`^\s*([0-9a-f]+):\s+(.*)$`)
	ripRel   = regexp.MustCompile(`#\s*0x([0-9a-f]+)`)
	callRel  = regexp.MustCompile(`^(?:callq|call|jmp|jmpq)\s+0x([0-9a-f]+)`)
)

// ripTargets maps "func+off" of each instruction with a RIP-relative
// operand or direct call to the absolute address llvm-objdump computed.
func ripTargets(dis string) map[string]uint64 {
	out := map[string]uint64{}
	var fn string
	var base uint64
	for _, line := range strings.Split(dis, "\n") {
		if m := funcLine.FindStringSubmatch(line); m != nil {
			fn = m[2]
			fmt.Sscanf(m[1], "%x", &base)
			continue
		}
		m := insnLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var at, v uint64
		fmt.Sscanf(m[1], "%x", &at)
		key := fmt.Sprintf("%s+%#x", fn, at-base)
		if r := ripRel.FindStringSubmatch(m[2]); r != nil {
			fmt.Sscanf(r[1], "%x", &v)
			out[key] = v
		} else if c := callRel.FindStringSubmatch(m[2]); c != nil {
			fmt.Sscanf(c[1], "%x", &v)
			out[key] = v
		}
	}
	return out
}

// image is a linked PE read with debug/pe: symbol addresses come from the
// objects' symbol offsets plus where llvm-objdump placed each function.
type image struct {
	f    *pe.File
	base uint64
}

func (im image) word(t *testing.T, va uint64) uint64 {
	for _, s := range im.f.Sections {
		start := im.base + uint64(s.VirtualAddress)
		if va >= start && va+8 <= start+uint64(s.VirtualSize) {
			b, err := s.Data()
			require.NoError(t, err)
			off := va - start
			if off+8 > uint64(len(b)) {
				return 0 // in the zero-filled tail
			}
			return binary.LittleEndian.Uint64(b[off:])
		}
	}
	t.Fatalf("address %#x in no section", va)
	return 0
}

// TestLink links the fixture with lld-link and checks in the image, with
// llvm-objdump, llvm-readobj and debug/pe, that every reference resolved
// to its symbol and that the pointer cells and fp got base relocations.
func TestLink(t *testing.T) {
	lld := tools.Require(t, "lld-link")
	objdump := tools.Require(t, "llvm-objdump")
	readobj := tools.Require(t, "llvm-readobj")
	dir := t.TempDir()
	a, err := WriteObject(fixtureA())
	require.NoError(t, err)
	b, err := WriteObject(objtest.Library("b.obj"))
	require.NoError(t, err)
	pa := writeFile(t, dir, "a.obj", a)
	pb := writeFile(t, dir, "b.obj", b)
	out := filepath.Join(dir, "out.exe")
	stdout, stderr := run(t, dir, lld.Path, "/entry:_start", "/subsystem:console", "/nodefaultlib", "/debug:symtab", "/out:"+out, pa, pb)
	require.Empty(t, stdout+stderr, "lld-link printed warnings")

	exe, err := os.ReadFile(out)
	require.NoError(t, err)
	f, err := pe.NewFile(bytes.NewReader(exe))
	require.NoError(t, err)
	oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
	require.True(t, ok)
	im := image{f: f, base: oh.ImageBase}
	addr := map[string]uint64{}
	for _, s := range f.Symbols {
		if s.SectionNumber > 0 && int(s.SectionNumber) <= len(f.Sections) {
			addr[s.Name] = im.base + uint64(f.Sections[s.SectionNumber-1].VirtualAddress) + uint64(s.Value)
		}
	}
	for _, n := range []string{"_start", "f", "g", "h", "k", "fp", "res", "str"} {
		require.Contains(t, addr, n, "symbols: %v", addr)
	}
	require.Equal(t, oh.ImageBase+uint64(oh.AddressOfEntryPoint), addr["_start"])
	require.Zero(t, addr["h"]%64, "h is 64-byte aligned")

	dis, _ := run(t, dir, objdump.Path, "-d", "--no-show-raw-insn", out)
	targets := ripTargets(dis)
	want := map[string]string{
		"_start+0x0":  "f",
		"_start+0xf":  "k",
		"_start+0x16": "res",
		"_start+0x1d": "fp",
		"_start+0x23": "res",
		"_start+0x2a": "res",
	}
	for at, sym := range want {
		require.Contains(t, targets, at, "disassembly:\n%s", dis)
		require.Equal(t, addr[sym], targets[at], "%s refers to %s", at, sym)
	}
	require.Equal(t, addr["str"]+1, targets["f+0x11"])
	require.Equal(t, uint64(11), im.word(t, targets["f+0x1b"]))
	// GOT references go through cells holding &g.
	for _, at := range []string{"_start+0x5", "f+0x0"} {
		require.Contains(t, targets, at)
		require.Equal(t, addr["g"], im.word(t, targets[at]), "cell used at %s", at)
	}
	require.Equal(t, addr["h"], im.word(t, addr["fp"]))

	// Base relocations cover fp and the cells (one per object).
	relocs, _ := run(t, dir, readobj.Path, "--coff-basereloc", out)
	var based []uint64
	for _, m := range regexp.MustCompile(`Address: 0x([0-9A-F]+)`).FindAllStringSubmatch(relocs, -1) {
		var v uint64
		fmt.Sscanf(m[1], "%X", &v)
		based = append(based, v+im.base)
	}
	require.Contains(t, based, addr["fp"])
	require.Contains(t, based, targets["_start+0x5"])
	require.Contains(t, based, targets["f+0x0"])
}

// TestLLVMMCAgrees compares our relocations with llvm-mc's for the same
// code (pointer cells written out in the assembly): type, offset in its
// section, target name and the addend stored in the field.
func TestLLVMMCAgrees(t *testing.T) {
	mc := tools.Require(t, "llvm-mc")
	dir := t.TempDir()
	for _, tt := range []struct {
		o   *obj.Object
		asm string
	}{{fixtureA(), fixtureAsmA}, {objtest.Library("b.obj"), fixtureAsmB}} {
		t.Run(tt.o.Name, func(t *testing.T) {
			src := writeFile(t, dir, tt.o.Name+".s", []byte(tt.asm))
			out := filepath.Join(dir, tt.o.Name+".mc.obj")
			run(t, dir, mc.Path, "-triple", "x86_64-pc-windows-msvc", "-filetype=obj", "-o", out, src)
			theirs, err := os.ReadFile(out)
			require.NoError(t, err)
			ours, err := WriteObject(tt.o)
			require.NoError(t, err)
			require.Equal(t, coffRelocs(t, theirs, true), coffRelocs(t, ours, true))
			// Our text is llvm-mc's, up to padding.
			require.Equal(t, sectionBytes(t, theirs, ".text")[:len(tt.o.Sections[0].Data)], sectionBytes(t, ours, ".text")[:len(tt.o.Sections[0].Data)])
		})
	}
}

// TestRel32Field checks, against llvm-mc, that PC-relative fields followed
// by 1, 2 or 4 bytes of immediate keep plain REL32 with field = A + 4.
func TestRel32Field(t *testing.T) {
	mc := tools.Require(t, "llvm-mc")
	dir := t.TempDir()
	text := objtest.Code(
		[]byte{0x80, 0x3d, 0, 0, 0, 0, 1},                //  0: cmp byte [rip+x], 1
		[]byte{0x66, 0xc7, 0x05, 0, 0, 0, 0, 0x34, 0x12}, //  7: mov word [rip+x+2], 0x1234
		[]byte{0xc7, 0x05, 0, 0, 0, 0, 5, 0, 0, 0},       // 16: mov dword [rip+x], 5
		[]byte{0xe8, 0, 0, 0, 0},                         // 26: call x
		[]byte{0xc3},
	)
	o := &obj.Object{
		Name: "s.obj",
		Sections: []*obj.Section{
			{Name: ".text", Kind: obj.Text, Align: 1, Data: text, Size: uint64(len(text)), Relocs: []obj.Reloc{
				{Offset: 2, Kind: obj.PCRel32, Sym: 1, Addend: -5},
				{Offset: 10, Kind: obj.PCRel32, Sym: 1, Addend: 2 - 6},
				{Offset: 18, Kind: obj.PCRel32, Sym: 1, Addend: -8},
				{Offset: 27, Kind: obj.Branch32, Sym: 1, Addend: -4},
			}},
			{Name: ".data", Kind: obj.Data, Align: 1, Data: make([]byte, 12), Size: 12, Relocs: []obj.Reloc{
				{Offset: 0, Kind: obj.Abs64, Sym: 1, Addend: 3},
				{Offset: 8, Kind: obj.ImageRel32, Sym: 1, Addend: 1},
			}},
		},
		Symbols: []*obj.Symbol{
			{Name: "t", Section: 0, Bind: obj.Global, Kind: obj.SymFunc},
			{Name: "x", Section: obj.Undef, Bind: obj.Global},
		},
	}
	src := writeFile(t, dir, "s.s", []byte(`.intel_syntax noprefix
.globl t
t:
 cmp byte ptr [rip + x], 1
 mov word ptr [rip + x + 2], 0x1234
 mov dword ptr [rip + x], 5
 call x
 ret
.data
.quad x+3
.rva x+1
`))
	out := filepath.Join(dir, "s.mc.obj")
	run(t, dir, mc.Path, "-triple", "x86_64-pc-windows-msvc", "-filetype=obj", "-o", out, src)
	theirs, err := os.ReadFile(out)
	require.NoError(t, err)
	ours, err := WriteObject(o)
	require.NoError(t, err)
	got := coffRelocs(t, ours, false)
	require.Equal(t, coffRelocs(t, theirs, false), got)
	require.Equal(t, []string{
		".data+0x0 ADDR64 x+3",
		".data+0x8 ADDR32NB x+1",
		".text+0x12 REL32 x-4",
		".text+0x1b REL32 x+0",
		".text+0x2 REL32 x-1",
		".text+0xa REL32 x+0",
	}, got)
}

func sectionBytes(t *testing.T, data []byte, name string) []byte {
	f, err := pe.NewFile(bytes.NewReader(data))
	require.NoError(t, err)
	for _, s := range f.Sections {
		if s.Name == name {
			b, err := s.Data()
			require.NoError(t, err)
			return b
		}
	}
	t.Fatalf("no section %s", name)
	return nil
}

var relocNames = map[uint16]string{
	RelAMD64Addr64: "ADDR64", RelAMD64Addr32: "ADDR32", RelAMD64Addr32NB: "ADDR32NB", RelAMD64Rel32: "REL32",
}

// coffRelocs lists every relocation as "section+offset TYPE target+field".
// With static set, targets that are static symbols are named by the
// bytes they point at (their section's name and the following 8 bytes),
// since llvm-mc and we name local targets differently.
func coffRelocs(t *testing.T, data []byte, static bool) []string {
	f, err := pe.NewFile(bytes.NewReader(data))
	require.NoError(t, err)
	var out []string
	for _, s := range f.Sections {
		b, _ := s.Data()
		for _, r := range s.Relocs {
			require.Less(t, int(r.SymbolTableIndex), len(f.COFFSymbols))
			sym := f.COFFSymbols[r.SymbolTableIndex]
			name, err := sym.FullName(f.StringTable)
			require.NoError(t, err)
			var field int64
			if r.Type == RelAMD64Addr64 {
				field = int64(binary.LittleEndian.Uint64(b[r.VirtualAddress:]))
			} else {
				field = int64(int32(binary.LittleEndian.Uint32(b[r.VirtualAddress:])))
			}
			if static && sym.StorageClass == symClassStatic {
				// Name the target by where it points: llvm-mc's k and our
				// k agree, llvm-mc's b and our section symbol .rdata+0 do not.
				ts := f.Sections[sym.SectionNumber-1]
				tb, _ := ts.Data()
				at := int64(sym.Value) + field
				var content []byte
				if at >= 0 && at < int64(len(tb)) {
					content = tb[at:min(int(at)+2, len(tb))]
				}
				if strings.HasPrefix(name, RefptrPrefix) {
					content = []byte(name) // the cell: compared by name
				}
				name = fmt.Sprintf("static:%s:%x", ts.Name, content)
				field = 0
			}
			where := fmt.Sprintf("%s+%#x", s.Name, r.VirtualAddress)
			if static && s.Name == ".rdata" {
				where = s.Name // pointer cells: llvm-mc merges .rdata, we do not
			}
			out = append(out, fmt.Sprintf("%s %s %s%+d", where, relocNames[r.Type], name, field))
		}
	}
	sort.Strings(out)
	return out
}
