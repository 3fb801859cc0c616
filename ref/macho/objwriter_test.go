package macho

import (
	"bytes"
	"context"
	"debug/macho"
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
		[]byte{0xb8, 4, 0, 0, 2},             // 42: mov eax, 0x2000004 (write)
		[]byte{0xbf, 1, 0, 0, 0},             // 47: mov edi, 1
		[]byte{0x48, 0x8d, 0x35, 0, 0, 0, 0}, // 52: lea rsi, [rip+res]
		[]byte{0xba, 8, 0, 0, 0},             // 59: mov edx, 8
		[]byte{0x0f, 0x05},                   // 64: syscall
		[]byte{0xb8, 1, 0, 0, 2},             // 66: mov eax, 0x2000001 (exit)
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

const fixtureAsmA = `.intel_syntax noprefix
.subsections_via_symbols
.section __TEXT,__text,regular,pure_instructions
.globl __start
.p2align 4
__start:
 call _f
 mov rcx, qword ptr [rip + _g@GOTPCREL]
 add rax, qword ptr [rcx]
 add rax, qword ptr [rip + _k]
 mov qword ptr [rip + _res], rax
 call qword ptr [rip + _fp]
 add qword ptr [rip + _res], rax
 mov eax, 0x2000004
 mov edi, 1
 lea rsi, [rip + _res]
 mov edx, 8
 syscall
 mov eax, 0x2000001
 xor edi, edi
 syscall
.p2align 6
_h: mov eax, 300
 ret
.section __TEXT,__const
.p2align 3
_k: .quad 1000
.section __DATA,__data
.p2align 3
.globl _fp
_fp: .quad _h
.zerofill __DATA,__bss,_res,8,3
`

const fixtureAsmB = `.intel_syntax noprefix
.subsections_via_symbols
.section __TEXT,__text,regular,pure_instructions
.globl _f
.p2align 4
_f:
 lea rax, [rip + _g@GOTPCREL]
 mov rax, qword ptr [rax]
 mov rax, qword ptr [rax]
 add rax, 20
 movzx ecx, byte ptr [rip + _str + 1]
 add rax, rcx
 add rax, qword ptr [rip + ltmp3 + 8]
 ret
.section __TEXT,__cstring,cstring_literals
_str: .asciz "hi"
.section __TEXT,__const
.p2align 3
ltmp3: .quad 0, 11
.section __DATA,__data
.globl _g
.p2align 3
_g: .quad 5
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
			"0x1 1 2 1 X86_64_RELOC_BRANCH 0 _f",
			"0x8 1 2 1 X86_64_RELOC_GOT_LOAD 0 _g",
			"0x12 1 2 1 X86_64_RELOC_SIGNED 0 _k",
			"0x0 0 3 1 X86_64_RELOC_UNSIGNED 0 _h",
			"Type: ZeroFill (0x1)",
			"Name: __start (",
			"Alignment: 6",
		}},
		{objtest.Library("b.o"), []string{
			"0x3 1 2 1 X86_64_RELOC_GOT 0 _g",
			"0x14 1 2 1 X86_64_RELOC_SIGNED 0 _str",
			"0x1E 1 2 1 X86_64_RELOC_SIGNED 0 ltmp3",
			"Type: CStringLiterals (0x2)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.o.Name, func(t *testing.T) {
			b, err := WriteObject(tt.o)
			require.NoError(t, err)
			p := writeFile(t, dir, tt.o.Name, b)
			out, stderr := run(t, dir, readobj.Path, "--file-headers", "--sections", "--relocations", "--symbols", "--macho-dysymtab", p)
			require.Empty(t, stderr)
			require.NotContains(t, strings.ToLower(out), "warning")
			require.NotContains(t, strings.ToLower(out), "error")
			require.Contains(t, out, "MH_SUBSECTIONS_VIA_SYMBOLS")
			for _, w := range tt.want {
				require.Contains(t, out, w)
			}
			// debug/macho reads it, and the symbol table is grouped and sorted.
			f, err := macho.NewFile(bytes.NewReader(b))
			require.NoError(t, err)
			require.NotNil(t, f.Dysymtab)
			d := f.Dysymtab
			groups := [][2]uint32{{d.Ilocalsym, d.Nlocalsym}, {d.Iextdefsym, d.Nextdefsym}, {d.Iundefsym, d.Nundefsym}}
			var total uint32
			for g, r := range groups {
				require.Equal(t, total, r[0], "group %d starts after the previous", g)
				total += r[1]
				var names []string
				for _, s := range f.Symtab.Syms[r[0] : r[0]+r[1]] {
					names = append(names, s.Name)
					ext := s.Type&nExt != 0
					undef := s.Type&0x0e == nUndf
					require.Equal(t, g != 0, ext, s.Name)
					require.Equal(t, g == 2, undef, s.Name)
				}
				require.True(t, sort.StringsAreSorted(names), "%v", names)
			}
			require.Equal(t, uint32(len(f.Symtab.Syms)), total)
		})
	}
}

func TestWriteObjectErrors(t *testing.T) {
	for _, k := range []obj.RelocKind{obj.Abs32, obj.Abs32S, obj.ImageRel32} {
		o := fixtureA()
		o.Sections[2].Relocs[0].Kind = k
		_, err := WriteObject(o)
		require.ErrorContains(t, err, fmt.Sprintf("a.o: section .data.fp: reloc 0 at offset 0x0: relocation kind %s cannot be expressed in x86_64 Mach-O", k))
	}
	o := fixtureA()
	o.Sections[0].Relocs[1].Addend = 0
	_, err := WriteObject(o)
	require.ErrorContains(t, err, "a Mach-O GOT reference must end the instruction")
}

// TestLink links the fixture with ld64.lld and checks in the executable,
// with llvm-objdump and debug/macho, that every reference resolved to its
// symbol.
func TestLink(t *testing.T) {
	lld := tools.Require(t, "ld64.lld")
	objdump := tools.Require(t, "llvm-objdump")
	dir := t.TempDir()
	a, err := WriteObject(fixtureA())
	require.NoError(t, err)
	b, err := WriteObject(objtest.Library("b.o"))
	require.NoError(t, err)
	pa := writeFile(t, dir, "a.o", a)
	pb := writeFile(t, dir, "b.o", b)
	out := filepath.Join(dir, "out")
	stdout, stderr := run(t, dir, lld.Path, "-arch", "x86_64", "-platform_version", "macos", "11.0", "11.0", "-e", "__start", "-o", out, pa, pb)
	require.Empty(t, stdout+stderr, "ld64.lld printed warnings")

	exe, err := os.ReadFile(out)
	require.NoError(t, err)
	f, err := macho.NewFile(bytes.NewReader(exe))
	require.NoError(t, err)
	addr := map[string]uint64{}
	for _, s := range f.Symtab.Syms {
		addr[s.Name] = s.Value
	}
	for _, n := range []string{"__start", "_f", "_g", "_h", "_k", "_fp", "_res", "_str"} {
		require.Contains(t, addr, n)
	}
	require.Zero(t, addr["_h"]%64, "_h is 64-byte aligned")

	dis, _ := run(t, dir, objdump.Path, "-d", "--no-show-raw-insn", out)
	// Every RIP-relative operand and call in the program, with its target.
	targets := ripTargets(dis)
	want := map[string]string{
		"__start+0x0":  "_f",   // call _f
		"__start+0xf":  "_k",   // add rax, [_k]
		"__start+0x16": "_res", // mov [_res], rax
		"__start+0x1d": "_fp",  // call [_fp]
		"__start+0x23": "_res",
		"__start+0x34": "_res", // lea rsi, [_res]
		"_f+0x11":      "_str+1",
	}
	for at, sym := range want {
		require.Contains(t, targets, at, "disassembly:\n%s", dis)
		got := targets[at]
		require.Equal(t, symAddr(t, addr, sym), got, "%s refers to %s", at, sym)
	}
	// _start's GOT load (not relaxed by ld64.lld 16 in a PIE) and _f's
	// lea of g's GOT slot: both refer to a slot that holds g's address.
	for _, at := range []string{"__start+0x5", "_f+0x0"} {
		require.Contains(t, targets, at)
		slot := targets[at]
		if slot != addr["_g"] {
			require.Equal(t, addr["_g"], readWord(t, f, slot), "GOT slot of _g used at %s", at)
		}
	}
	// .rodata.b's 11 sits 8 bytes into the atom _f refers to (ltmp3,
	// which ld64.lld does not keep in the output's symbol table).
	require.Contains(t, targets, "_f+0x1b")
	// The operand is ltmp3+8 itself.
	require.Equal(t, uint64(0), readWord(t, f, targets["_f+0x1b"]-8))
	require.Equal(t, uint64(11), readWord(t, f, targets["_f+0x1b"]))
	// _fp holds &_h.
	require.Equal(t, addr["_h"], readWord(t, f, addr["_fp"]))
}

func symAddr(t *testing.T, addr map[string]uint64, s string) uint64 {
	name, off, _ := strings.Cut(s, "+")
	a, ok := addr[name]
	require.True(t, ok, name)
	if off != "" {
		var n uint64
		_, err := fmt.Sscan(off, &n)
		require.NoError(t, err)
		a += n
	}
	return a
}

// readWord returns the 8 bytes at virtual address a.
func readWord(t *testing.T, f *macho.File, a uint64) uint64 {
	for _, s := range f.Sections {
		if a >= s.Addr && a+8 <= s.Addr+s.Size {
			b, err := s.Data()
			require.NoError(t, err)
			return binary.LittleEndian.Uint64(b[a-s.Addr:])
		}
	}
	t.Fatalf("address %#x in no section", a)
	return 0
}

var (
	funcLine = regexp.MustCompile(`^[0-9a-f]+ <([^>]+)>:$`)
	insnLine = regexp.MustCompile(`^\s*([0-9a-f]+):\s+(.*)$`)
	ripRel   = regexp.MustCompile(`#\s*0x([0-9a-f]+)`)
	callRel  = regexp.MustCompile(`^(?:callq|jmp|jmpq|call)\s+0x([0-9a-f]+)`)
)

// ripTargets maps "func+off" of each instruction with a RIP-relative
// operand or direct call to the absolute address it refers to, as
// llvm-objdump computed it.
func ripTargets(dis string) map[string]uint64 {
	out := map[string]uint64{}
	var fn string
	var base uint64
	for _, line := range strings.Split(dis, "\n") {
		if m := funcLine.FindStringSubmatch(line); m != nil {
			fn = m[1]
			fmt.Sscanf(strings.Fields(line)[0], "%x", &base)
			continue
		}
		m := insnLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		var at uint64
		fmt.Sscanf(m[1], "%x", &at)
		key := fmt.Sprintf("%s+%#x", fn, at-base)
		if r := ripRel.FindStringSubmatch(m[2]); r != nil {
			var v uint64
			fmt.Sscanf(r[1], "%x", &v)
			out[key] = v
		} else if c := callRel.FindStringSubmatch(m[2]); c != nil {
			var v uint64
			fmt.Sscanf(c[1], "%x", &v)
			out[key] = v
		}
	}
	return out
}

// TestLLVMMCAgrees assembles the fixture with llvm-mc for
// x86_64-apple-macos11 and compares every relocation: section, address,
// type, pcrel, length, extern, symbol and the addend stored in the field.
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
			run(t, dir, mc.Path, "-triple", "x86_64-apple-macos11", "-filetype=obj", "-o", out, src)
			theirs, err := os.ReadFile(out)
			require.NoError(t, err)
			ours, err := WriteObject(tt.o)
			require.NoError(t, err)
			require.Equal(t, machoRelocs(t, theirs), machoRelocs(t, ours))
		})
	}
}

func machoRelocs(t *testing.T, data []byte) []string {
	f, err := macho.NewFile(bytes.NewReader(data))
	require.NoError(t, err)
	var out []string
	for _, s := range f.Sections {
		b, err := s.Data()
		require.NoError(t, err)
		for _, r := range s.Relocs {
			require.True(t, r.Extern)
			var field int64
			if r.Len == 3 {
				field = int64(binary.LittleEndian.Uint64(b[r.Addr:]))
			} else {
				field = int64(int32(binary.LittleEndian.Uint32(b[r.Addr:])))
			}
			out = append(out, fmt.Sprintf("%s,%s+%#x %v pcrel=%v len=%d %s%+d", s.Seg, s.Name, r.Addr,
				macho.RelocTypeX86_64(r.Type), r.Pcrel, r.Len, f.Symtab.Syms[r.Value].Name, field))
		}
	}
	sort.Strings(out)
	return out
}

// TestSignedN checks the SIGNED_1/_2/_4 choice and field values against
// llvm-mc for instructions with 1, 2 and 4 bytes of immediate after the
// RIP-relative field.
func TestSignedN(t *testing.T) {
	mc := tools.Require(t, "llvm-mc")
	dir := t.TempDir()
	text := objtest.Code(
		[]byte{0x80, 0x3d, 0, 0, 0, 0, 1},                //  0: cmp byte [rip+x], 1
		[]byte{0x66, 0xc7, 0x05, 0, 0, 0, 0, 0x34, 0x12}, //  7: mov word [rip+x+2], 0x1234
		[]byte{0xc7, 0x05, 0, 0, 0, 0, 5, 0, 0, 0},       // 16: mov dword [rip+x], 5
		[]byte{0xc3},
	)
	o := &obj.Object{
		Name: "s.o",
		Sections: []*obj.Section{
			{Name: ".text", Kind: obj.Text, Align: 1, Data: text, Size: uint64(len(text)), Relocs: []obj.Reloc{
				{Offset: 2, Kind: obj.PCRel32, Sym: 1, Addend: -5},
				{Offset: 10, Kind: obj.PCRel32, Sym: 1, Addend: 2 - 6},
				{Offset: 18, Kind: obj.PCRel32, Sym: 1, Addend: -8},
			}},
		},
		Symbols: []*obj.Symbol{
			{Name: "t", Section: 0, Bind: obj.Global, Kind: obj.SymFunc},
			{Name: "x", Section: obj.Undef, Bind: obj.Global},
		},
	}
	src := writeFile(t, dir, "s.s", []byte(`.intel_syntax noprefix
.globl _t
_t:
 cmp byte ptr [rip + _x], 1
 mov word ptr [rip + _x + 2], 0x1234
 mov dword ptr [rip + _x], 5
 ret
`))
	out := filepath.Join(dir, "s.mc.o")
	run(t, dir, mc.Path, "-triple", "x86_64-apple-macos11", "-filetype=obj", "-o", out, src)
	theirs, err := os.ReadFile(out)
	require.NoError(t, err)
	ours, err := WriteObject(o)
	require.NoError(t, err)
	got := machoRelocs(t, ours)
	require.Equal(t, machoRelocs(t, theirs), got)
	require.Equal(t, []string{
		"__TEXT,__text+0x12 X86_64_RELOC_SIGNED_4 pcrel=true len=2 _x-4",
		"__TEXT,__text+0x2 X86_64_RELOC_SIGNED_1 pcrel=true len=2 _x-1",
		"__TEXT,__text+0xa X86_64_RELOC_SIGNED pcrel=true len=2 _x+0",
	}, got)
}

// TestWriteObjectSymbolInsideSection: a model section is one atom, so a
// symbol at a nonzero offset in it (an alt entry, or any label of an object
// read without MH_SUBSECTIONS_VIA_SYMBOLS) is written as N_ALT_ENTRY; a
// plain symbol there would split the atom when the object is read again,
// and a relocation across the split would make the writer's own output
// unreadable (found by FuzzReadMachO: "field crosses the end of its atom").
func TestWriteObjectSymbolInsideSection(t *testing.T) {
	o := &obj.Object{
		Name: "inside.o",
		Sections: []*obj.Section{
			{Name: "__DATA,__data", Kind: obj.Data, Align: 8, Data: make([]byte, 16), Size: 16, Relocs: []obj.Reloc{
				{Offset: 0, Kind: obj.Abs64, Sym: 0},
			}},
		},
		Symbols: []*obj.Symbol{
			{Name: "start", Section: 0, Size: 16, Bind: obj.Global, Kind: obj.SymData},
			{Name: "g", Section: 0, Value: 4, Size: 12, Bind: obj.Weak, Kind: obj.SymData},
		},
	}
	require.NoError(t, o.Validate())
	b, err := WriteObject(o)
	require.NoError(t, err)
	again, err := ReadObject("inside.o", b)
	require.NoError(t, err, "reading the writer's own output")
	require.Len(t, again.Sections, 1, "the section stays one atom")
	g := again.Symbols[again.Lookup("g")]
	require.Equal(t, uint64(4), g.Value)
	require.Equal(t, obj.Weak, g.Bind, "the weak bit survives next to the alt-entry bit")
}
