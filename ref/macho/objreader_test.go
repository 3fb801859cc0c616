package macho

import (
	"bytes"
	"debug/macho"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/obj/objtest"
	"github.com/stretchr/testify/require"
)

// asmAll has every relocation form the reader turns into a model
// relocation: extern BRANCH, GOT_LOAD, GOT, SIGNED and SIGNED_1/2/4;
// section-relative SIGNED into a C string and an 8-byte literal section;
// SIGNED to a temporary label of __data (llvm-mc makes it extern against
// the atom's symbol with an offset); UNSIGNED 8-byte, extern and against
// a C string label; SUBTRACTOR pairs from a label of the field's atom; a
// zerofill symbol.
const asmAll = `.subsections_via_symbols
.section __TEXT,__text,regular,pure_instructions
.globl __start
.p2align 4
__start:
  call _f
  call _h
  movq _g@GOTPCREL(%rip), %rax
  pushq _g@GOTPCREL(%rip)
  popq %rax
  leaq L_.str(%rip), %rdi
  leaq L_.str2+2(%rip), %rdi
  movsd Llit(%rip), %xmm0
  cmpb $1, _g(%rip)
  movw $0x1234, _g+2(%rip)
  movl $5, _g+4(%rip)
  leaq Ldata+8(%rip), %rcx
  movq %rax, _res(%rip)
  cmpb $1, L_.str+1(%rip)
  movl $5, Llit+4(%rip)
  ret
_h: ret
.section __TEXT,__cstring,cstring_literals
L_.str: .asciz "hi"
L_.str2: .asciz "there"
.section __TEXT,__literal8,8byte_literals
.p2align 3
Llit: .quad 0x400c000000000000
.section __DATA,__data
.p2align 3
.globl _tab
_tab: .quad _h
 .quad L_.str2
 .long _h - .
 .long _h - _tab
 .quad Ldata
 .quad __start + 3
Ldata: .quad 7, 8
.zerofill __DATA,__bss,_res,8,3
`

// asmLib defines what asmAll uses from another object.
const asmLib = `.subsections_via_symbols
.text
.globl _f
_f: movl $1, %eax
 ret
.data
.globl _g
.p2align 3
_g: .quad 5
`

// cSource is compiled by clang with its default flags (compact unwind and
// __eh_frame included): statics, a zerofill common-section array, a
// function pointer, a string pointer, an 8-byte literal and a lookup
// table.
const cSource = `
static const char msg[] = "hello";
static long counter = 7;
long table[2];
static long zz;
static long twice(long x) { return 2 * x; }
long (*fp)(long) = twice;
extern long ext;
const char *s = "lit";
double dd(double x) { return x * 3.5; }
int sw(int x) { switch (x) { case 0: return 4; case 1: return 9; case 2: return 13; case 3: return 17; case 4: return 99; case 5: return 1; } return 0; }
long f(void) { counter += fp(msg[1]); table[1] = counter; zz++; return counter + ext + table[1] + zz + s[1] + (long)dd(2.0) + sw(3); }
`

// cSource2 shares a string literal with cSource (ld64.lld merges them),
// has a jump table in __text and, from -O1, a relative lookup table of
// strings (l_reltable: SUBTRACTOR pairs with a section-relative minuend).
const cSource2 = `
const char *t = "lit";
int g(int x) { return x + 1; }
int sw2(int x) {
  switch (x) { case 0: return g(4); case 1: return g(9) + 1; case 2: return g(13) * 3; case 3: return g(17) - 2; case 4: return g(99); }
  return t[0];
}
const char *nm(int i) {
  switch (i) { case 0: return "zero"; case 1: return "one"; case 2: return "two"; case 3: return "three"; case 4: return "four"; }
  return "many";
}
`

// cWeak has a weak definition, a weak import tested for null (a GOT
// reference with an immediate after it) and a hidden global (N_PEXT).
const cWeak = `
__attribute__((weak)) int w = 1;
__attribute__((visibility("hidden"))) int hid = 2;
extern int wi __attribute__((weak_import));
__attribute__((weak)) int wf(void) { return 5; }
int f(void) { return w + hid + (&wi ? wi : 0) + wf(); }
`

// cMain gives the C object an entry point and ext.
const cMain = `.subsections_via_symbols
.text
.globl __start
__start: call _f
 ret
.data
.globl _ext
.p2align 3
_ext: .quad 3
`

// assemble runs llvm-mc on src for x86_64 macOS 11.
func assemble(t *testing.T, dir, name, src string) []byte {
	t.Helper()
	mc := tools.Require(t, "llvm-mc")
	p := writeFile(t, dir, name+".s", []byte(src))
	out := filepath.Join(dir, name)
	run(t, dir, mc.Path, "-triple", "x86_64-apple-macos11", "-filetype=obj", "-o", out, p)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	return b
}

// compile runs clang on a C source for x86_64 macOS 11 with default flags
// and -O1, or the given flags.
func compile(t *testing.T, dir, name, src string, flags ...string) []byte {
	t.Helper()
	clang := tools.Require(t, "clang")
	p := writeFile(t, dir, name+".c", []byte(src))
	out := filepath.Join(dir, name)
	if flags == nil {
		flags = []string{"-O1"}
	}
	run(t, dir, clang.Path, append(append([]string{"--target=x86_64-apple-macos11"}, flags...), "-c", "-o", out, p)...)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	return b
}

// relocLines renders the model's relocations as "section:atom+off kind
// target+addend", with the atom named by its first symbol.
func relocLines(o *obj.Object) []string {
	var out []string
	for i, s := range o.Sections {
		for _, r := range s.Relocs {
			out = append(out, fmt.Sprintf("%s:%s+%#x %s %s%+d", s.Name, atomName(o, i), r.Offset, r.Kind, o.Symbols[r.Sym].Name, r.Addend))
		}
	}
	return out
}

// atomName names section i by the first symbol at its offset 0 that is
// not a section symbol, or "#i".
func atomName(o *obj.Object, i int) string {
	for _, s := range o.Symbols {
		if s.Section == i && s.Value == 0 && s.Kind != obj.SymSection {
			return s.Name
		}
	}
	return fmt.Sprintf("#%d", i)
}

func TestReadAsm(t *testing.T) {
	dir := t.TempDir()
	o, err := ReadObject("all.o", assemble(t, dir, "all.o", asmAll))
	require.NoError(t, err)
	require.Equal(t, []string{
		"__TEXT,__text:_start+0x1 branch32 f-4",
		"__TEXT,__text:_start+0x6 branch32 h-4",
		"__TEXT,__text:_start+0xd gotload32 g-4",
		"__TEXT,__text:_start+0x13 gotpcrel32 g-4",
		"__TEXT,__text:_start+0x1b pcrel32 .L__cstring.0-4",
		"__TEXT,__text:_start+0x22 pcrel32 .L__cstring.3-2",
		"__TEXT,__text:_start+0x2a pcrel32 .L__literal8.0-4",
		"__TEXT,__text:_start+0x30 pcrel32 g-5",
		"__TEXT,__text:_start+0x38 pcrel32 g-4", // 2 + SIGNED's -4 - 2 bytes of immediate
		"__TEXT,__text:_start+0x40 pcrel32 g-4", // 4 - 4 - 4 bytes of immediate
		"__TEXT,__text:_start+0x4b pcrel32 tab+44",
		"__TEXT,__text:_start+0x52 pcrel32 res-4",
		// llvm-mc writes section-relative SIGNED, not SIGNED_1/_4, with the
		// field relative to the end of the instruction: ld64.lld, and the
		// model, place such a target 1 or 4 bytes before L_.str+1 or Llit+4.
		"__TEXT,__text:_start+0x58 pcrel32 .L__cstring.0-4",
		"__TEXT,__text:_start+0x5f pcrel32 .L__literal8.0-4",
		"__DATA,__data:tab+0x0 abs64 h+0",
		"__DATA,__data:tab+0x8 abs64 .L__cstring.3+0",
		"__DATA,__data:tab+0x10 pcrel32 h+0",
		"__DATA,__data:tab+0x14 pcrel32 h+20",
		"__DATA,__data:tab+0x18 abs64 tab+40",
		"__DATA,__data:tab+0x20 abs64 _start+3",
	}, relocLines(o))
	var secs []string
	for i, s := range o.Sections {
		secs = append(secs, fmt.Sprintf("%s %s %s align=%d size=%d merge=%v/%v/%d", atomName(o, i), s.Name, s.Kind, s.Align, s.Size, s.Merge, s.Strings, s.EntSize))
	}
	require.Equal(t, []string{
		"_start __TEXT,__text text align=16 size=104 merge=false/false/0",
		"h __TEXT,__text text align=8 size=1 merge=false/false/0", // at offset 104
		".L__cstring.0 __TEXT,__cstring rodata align=1 size=9 merge=true/true/1",
		".L__literal8.0 __TEXT,__literal8 rodata align=8 size=8 merge=true/false/8",
		"tab __DATA,__data data align=8 size=56 merge=false/false/0",
		"res __DATA,__bss bss align=8 size=8 merge=false/false/0",
	}, secs)
	// The fields hold no addends: they are in the model.
	for _, s := range o.Sections {
		for _, r := range s.Relocs {
			require.Equal(t, make([]byte, r.Kind.Size()), s.Data[r.Offset:r.Offset+uint64(r.Kind.Size())], "%s+%#x", s.Name, r.Offset)
		}
	}
	require.Equal(t, []string{
		".L__cstring.0 object __TEXT,__cstring+0x0 size=0 local",
		".L__cstring.3 object __TEXT,__cstring+0x3 size=0 local",
		".L__literal8.0 object __TEXT,__literal8+0x0 size=0 local",
		"_start func __TEXT,__text+0x0 size=104 global",
		"f notype UNDEF+0x0 size=0 global",
		"g notype UNDEF+0x0 size=0 global",
		"h func __TEXT,__text+0x0 size=1 local",
		"res object __DATA,__bss+0x0 size=8 local",
		"tab object __DATA,__data+0x0 size=56 global",
	}, symbolSummary(o))
}

// symbolSummary renders every symbol with its section by name, sorted.
func symbolSummary(o *obj.Object) []string {
	var out []string
	for _, s := range o.Symbols {
		sec := "UNDEF"
		switch s.Section {
		case obj.Undef:
		case obj.Abs:
			sec = "ABS"
		default:
			sec = o.Sections[s.Section].Name
		}
		out = append(out, fmt.Sprintf("%s %s %s+%#x size=%d %s", s.Name, s.Kind, sec, s.Value, s.Size, s.Bind))
	}
	sort.Strings(out)
	return out
}

// TestReadSubtractorConstant reads a SUBTRACTOR pair whose two symbols lie
// in one atom (an N_ALT_ENTRY label, which does not start an atom): the
// difference is written into the field. llvm-mc folds such differences
// itself, so the pair is written by hand into its output.
func TestReadSubtractorConstant(t *testing.T) {
	dir := t.TempDir()
	b := assemble(t, dir, "sub.o", `.subsections_via_symbols
.text
.globl _a
_a: nop
 nop
 nop
.globl _b
.alt_entry _b
_b: ret
.data
_t: .long _a - _t
`)
	f, err := macho.NewFile(bytes.NewReader(b))
	require.NoError(t, err)
	data := f.Section("__data")
	require.Len(t, data.Relocs, 2)
	idx := map[string]uint32{}
	for i, s := range f.Symtab.Syms {
		idx[s.Name] = uint32(i)
	}
	// Rewrite the pair as _b - _a (field 0): SUBTRACTOR then UNSIGNED.
	le := binary.LittleEndian
	at := uint64(data.Reloff)
	word := func(sym uint32, typ uint32) uint32 { return sym | 2<<25 | 1<<27 | typ<<28 }
	le.PutUint32(b[at+4:], word(idx["_a"], relSubtractor))
	le.PutUint32(b[at+12:], word(idx["_b"], relUnsigned))
	le.PutUint32(b[data.Offset:], 0)
	o, err := ReadObject("sub.o", b)
	require.NoError(t, err)
	d := o.Sections[o.Symbols[o.Lookup("t")].Section]
	require.Empty(t, d.Relocs)
	require.Equal(t, []byte{3, 0, 0, 0}, d.Data)
	require.Equal(t, o.Symbols[o.Lookup("a")].Section, o.Symbols[o.Lookup("b")].Section, "an alt entry does not start an atom")
}

// TestReadSignedNSectionRelative rewrites llvm-mc's section-relative
// SIGNED relocations of "cmpb $1, L_.str+1(%rip)" and "movl $5,
// Llit+4(%rip)" as SIGNED_1 and SIGNED_4 with the same fields: ld64.lld
// then places the targets exactly (not 1 and 4 bytes early) and the
// executables agree; so must the model.
func TestReadSignedNSectionRelative(t *testing.T) {
	objdump := tools.Require(t, "llvm-objdump")
	dir := t.TempDir()
	orig := assemble(t, dir, "s1.o", `.text
.globl __start
__start: cmpb $1, L_.str+1(%rip)
 movl $5, Llit+4(%rip)
 ret
.cstring
L_.str: .asciz "hi"
.literal8
Llit: .quad 1
`)
	b := append([]byte(nil), orig...)
	f, err := macho.NewFile(bytes.NewReader(b))
	require.NoError(t, err)
	text := f.Section("__text")
	require.Len(t, text.Relocs, 2)
	le := binary.LittleEndian
	for i, typ := range []uint32{relSigned4, relSigned1} { // listed last first
		require.Equal(t, uint8(relSigned), text.Relocs[i].Type)
		require.False(t, text.Relocs[i].Extern)
		at := uint64(text.Reloff) + uint64(i)*relocSize
		le.PutUint32(b[at+4:], le.Uint32(b[at+4:])&0x0fffffff|typ<<28)
	}
	o, err := ReadObject("s1.o", b)
	require.NoError(t, err)
	require.Equal(t, []string{
		"__TEXT,__text:_start+0x2 pcrel32 .L__cstring.1-5",
		"__TEXT,__text:_start+0x9 pcrel32 .L__literal8.4-8",
	}, relocLines(o))
	po := writeFile(t, dir, "orig.o", orig)
	pb := writeFile(t, dir, "signedn.o", b)
	again, err := WriteObject(o)
	require.NoError(t, err)
	pa := writeFile(t, dir, "again.o", again)
	want := linkView(t, dir, objdump.Path, "orig.out", []string{po})
	require.Equal(t, want, linkView(t, dir, objdump.Path, "signedn.out", []string{pb}))
	require.Equal(t, want, linkView(t, dir, objdump.Path, "again.out", []string{pa}))
	require.Contains(t, want, `__start+0x0: cmpb $0x1, (%rip) -> anon("i")`)
}

// TestReadRelativeTable reads a relative table of C strings as clang
// writes one (l_reltable): SUBTRACTOR pairs from a private label with a
// section-relative UNSIGNED whose field is the string's object address.
func TestReadRelativeTable(t *testing.T) {
	dir := t.TempDir()
	o, err := ReadObject("rt.o", assemble(t, dir, "rt.o", `.subsections_via_symbols
.text
.globl __start
__start: leaq l_rt(%rip), %rax
 ret
.cstring
L_.a: .asciz "a"
L_.b: .asciz "bc"
.section __TEXT,__const
.p2align 2
l_rt: .long L_.a - l_rt
 .long L_.b - l_rt
`))
	require.NoError(t, err)
	require.Equal(t, []string{
		"__TEXT,__text:_start+0x3 pcrel32 __TEXT,__const-4",
		"__TEXT,__const:#2+0x0 pcrel32 .L__cstring.0+0",
		"__TEXT,__const:#2+0x4 pcrel32 .L__cstring.2+4",
	}, relocLines(o))
	require.Equal(t, make([]byte, 8), o.Sections[2].Data)
}

// TestReadGOTAddend reads GOT references with an addend in the field, as
// clang writes one before an immediate; a GOT_LOAD with one (edited in by
// hand: llvm-mc writes none) is refused.
func TestReadGOTAddend(t *testing.T) {
	dir := t.TempDir()
	b := assemble(t, dir, "got.o", `.text
.globl _t
_t: cmpq $0, _wi@GOTPCREL(%rip)
 movq _g@GOTPCREL+4(%rip), %rax
 movq _g@GOTPCREL(%rip), %rax
 ret
`)
	o, err := ReadObject("got.o", b)
	require.NoError(t, err)
	require.Equal(t, []string{
		"__TEXT,__text:t+0x3 gotpcrel32 wi-5",
		"__TEXT,__text:t+0xb gotpcrel32 g+0",
		"__TEXT,__text:t+0x12 gotload32 g-4",
	}, relocLines(o))
	f, err := macho.NewFile(bytes.NewReader(b))
	require.NoError(t, err)
	text := f.Section("__text")
	binary.LittleEndian.PutUint32(b[text.Offset+0x12:], 4)
	_, err = ReadObject("got.o", b)
	require.ErrorContains(t, err, "got.o: section __TEXT,__text: reloc 0 at offset 0x12: X86_64_RELOC_GOT_LOAD with addend 4: only a GOT load that ends the instruction is supported")
	require.ErrorIs(t, err, ErrUnsupported)
}

func TestReadUnsupported(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"tlv", "movq _x@TLVP(%rip), %rdi\n", "a.o: section __TEXT,__text: reloc 0 at offset 0x3: X86_64_RELOC_TLV (thread-local variable) is not supported"},
		{"tbss", ".tbss _x$tlv$init, 8, 3\n", "a.o: section __DATA,__thread_bss: thread-local storage (section type 0x12) is not supported"},
		{"mod_init_func", ".mod_init_func\n.quad _f\n", "a.o: section __DATA,__mod_init_func: constructors/destructors (section type 0x9) are not supported"},
		{"common", ".comm _c, 8, 3\n", `a.o: symbol 0 "_c": common symbol is not supported (compile with -fno-common)`},
		{"abs32", ".data\n.long _f\n", "a.o: section __DATA,__data: reloc 0 at offset 0x0: X86_64_RELOC_UNSIGNED of 4 bytes: only 8-byte absolute addresses are supported"},
		{"nl pointers", ".section __DATA,__nl_symbol_ptr,non_lazy_symbol_pointers\n.indirect_symbol _f\n.quad 0\n", "a.o: section __DATA,__nl_symbol_ptr: symbol pointer or stub section (type 0x6) in an object is not supported"},
		{"coalesced", ".section __TEXT,__textcoal_nt,coalesced,pure_instructions\nret\n", "a.o: section __TEXT,__textcoal_nt: coalesced section (S_COALESCED) is not supported"},
		{"pcrel64", ".subsections_via_symbols\n.text\n_b: ret\n.data\n_t: .quad 0\n.quad _b - .\n", `a.o: section __DATA,__data: reloc 0 at offset 0x8: X86_64_RELOC_SUBTRACTOR pair "b" - "t" of 8 bytes`},
		{"cross-atom difference", ".subsections_via_symbols\n.text\n_b: ret\n.data\n_t: .quad 0\n.long _b - _c\n_c: .quad 0\n", `a.o: section __DATA,__data: reloc 0 at offset 0x8: X86_64_RELOC_SUBTRACTOR pair "b" - "c" of 4 bytes`},
		{"literal pointers", ".section __DATA,__litptr,literal_pointers\n.quad L1\n.cstring\nL1: .asciz \"x\"\n", "a.o: section __DATA,__litptr: literal pointer section (S_LITERAL_POINTERS) is not supported"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadObject("a.o", assemble(t, dir, strings.ReplaceAll(tt.name, " ", "_")+".o", tt.src))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.True(t, errors.Is(err, ErrUnsupported), "%v", err)
		})
	}
}

func TestReadMalformed(t *testing.T) {
	good, err := WriteObject(objtest.Library("b.o"))
	require.NoError(t, err)
	f, err := macho.NewFile(bytes.NewReader(good))
	require.NoError(t, err)
	le := binary.LittleEndian
	const sect0 = headerSize + segmentCmdSize // first section header
	symtabCmd := headerSize + segmentCmdSize + sectionHdrSize*len(f.Sections) + buildVersionCmdSize
	text := f.Section("__text")
	symoff := le.Uint32(good[symtabCmd+8:]) // debug/macho leaves Symtab.Symoff unset
	mutate := func(fn func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		fn(b)
		return b
	}
	tests := []struct {
		name string
		data []byte
		want string
		err  error
	}{
		{"empty", nil, "too short", ErrMalformed},
		{"magic", mutate(func(b []byte) { b[0] = 0 }), "bad magic", ErrMalformed},
		{"big-endian", mutate(func(b []byte) { le.PutUint32(b, magic64BE) }), "big-endian", ErrUnsupported},
		{"fat", mutate(func(b []byte) { le.PutUint32(b, magicFatLE) }), "universal (fat) file", ErrUnsupported},
		{"arm64", mutate(func(b []byte) { le.PutUint32(b[4:], 0x0100000c) }), "CPU type 0x100000c", ErrUnsupported},
		{"executable", mutate(func(b []byte) { le.PutUint32(b[12:], 2) }), "want MH_OBJECT", ErrUnsupported},
		{"truncated", good[:len(good)-10], "past the end of the file", ErrMalformed},
		{"sizeofcmds", mutate(func(b []byte) { le.PutUint32(b[20:], 1<<31) }), "load commands: range", ErrMalformed},
		{"ncmds", mutate(func(b []byte) { le.PutUint32(b[16:], 1<<30) }), "load commands do not fit", ErrMalformed},
		{"cmdsize", mutate(func(b []byte) { le.PutUint32(b[headerSize+4:], 4) }), "load command 0 at offset 0x20: size 4 out of range", ErrMalformed},
		{"nsects", mutate(func(b []byte) { le.PutUint32(b[headerSize+64:], 1000) }), "1000 sections do not fit", ErrMalformed},
		{"section offset", mutate(func(b []byte) { le.PutUint32(b[sect0+48:], 1<<31) }), "section __TEXT,__text: range [0x80000000", ErrMalformed},
		{"section size", mutate(func(b []byte) { le.PutUint64(b[sect0+40:], 1<<40) }), "section __TEXT,__text: range", ErrMalformed},
		{"alignment", mutate(func(b []byte) { le.PutUint32(b[sect0+52:], 40) }), "alignment 2^40 is larger than 2^15", ErrUnsupported},
		{"overlap", mutate(func(b []byte) { le.PutUint32(b[sect0+48:], f.Sections[1].Offset) }), "overlaps section __TEXT,__text", ErrMalformed},
		{"nsyms", mutate(func(b []byte) { le.PutUint32(b[symtabCmd+12:], 1<<28) }), "symbol table: range", ErrMalformed},
		{"strx", mutate(func(b []byte) { le.PutUint32(b[symoff:], 1<<20) }), "symbol 0: name offset 0x100000 past the string table", ErrMalformed},
		{"n_sect", mutate(func(b []byte) { b[symoff+5] = 9 }), "section ordinal 9 out of range", ErrMalformed},
		{"n_value", mutate(func(b []byte) { le.PutUint64(b[symoff+8:], 1<<40) }), "outside section", ErrMalformed},
		{"reloc symbol", mutate(func(b []byte) { le.PutUint32(b[text.Reloff+4:], le.Uint32(b[text.Reloff+4:])|0xffffff) }), "symbol index 16777215 out of range", ErrMalformed},
		{"reloc address", mutate(func(b []byte) { le.PutUint32(b[text.Reloff:], 0x7fff0000) }), "field outside the section", ErrMalformed},
		{"reloc type", mutate(func(b []byte) { b[text.Reloff+7] |= 0xf0 }), "unknown relocation type 15", ErrMalformed},
		{"scattered", mutate(func(b []byte) { b[text.Reloff+3] |= 0x80 }), "scattered relocation", ErrUnsupported},
		{"reloc table", mutate(func(b []byte) { le.PutUint32(b[sect0+60:], 1<<29) }), "relocation table: range", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadObject("b.o", tt.data)
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, err, "b.o: ")
			require.True(t, errors.Is(err, tt.err), "%v", err)
		})
	}
}

// TestReadWriterRoundTrip reads what WriteObject wrote: every atom comes
// back as a section with its bytes, alignment and kind, every symbol and
// every relocation with the same target; writing what was read and reading
// it again changes nothing.
func TestReadWriterRoundTrip(t *testing.T) {
	for _, o := range []*obj.Object{fixtureA(), objtest.Library("b.o")} {
		t.Run(o.Name, func(t *testing.T) {
			b, err := WriteObject(o)
			require.NoError(t, err)
			got, err := ReadObject(o.Name, b)
			require.NoError(t, err)
			// The writer groups atoms by Mach-O section in a fixed order
			// and keeps their order in each; the reader splits them again
			// in that order (the fixtures have at most one C string atom,
			// which the reader does not split).
			group := func(s *obj.Section) int {
				switch {
				case s.Kind == obj.Text:
					return 0
				case s.Kind == obj.ROData && len(s.Relocs) > 0:
					return 4
				case s.Kind == obj.ROData && s.Merge && s.Strings && s.EntSize == 1:
					return 1
				case s.Kind == obj.ROData:
					return 2
				case s.Kind == obj.Data:
					return 3
				}
				return 5
			}
			perm := make([]int, len(o.Sections))
			for i := range perm {
				perm[i] = i
			}
			sort.SliceStable(perm, func(a, b int) bool { return group(o.Sections[perm[a]]) < group(o.Sections[perm[b]]) })
			placed := make([]int, len(o.Sections))
			for n, i := range perm {
				placed[i] = n
			}
			require.Len(t, got.Sections, len(o.Sections))
			atom := func(i int) int { return placed[i] }
			for i, s := range o.Sections {
				g := got.Sections[atom(i)]
				require.Equal(t, s.Kind, g.Kind, s.Name)
				require.GreaterOrEqual(t, g.Size, s.Size, s.Name) // with the padding up to the next atom
				require.LessOrEqual(t, s.Align, g.Align, s.Name)
				if s.Data != nil {
					require.Equal(t, s.Data, g.Data[:len(s.Data)], s.Name)
				}
				require.Len(t, g.Relocs, len(s.Relocs), s.Name)
				for j, r := range s.Relocs {
					gr := g.Relocs[j]
					require.Equal(t, r.Offset, gr.Offset)
					require.Equal(t, r.Kind, gr.Kind)
					require.Equal(t, targetOf(o, r, atom), targetOf(got, gr, func(i int) int { return i }), "%s reloc %d", s.Name, j)
				}
			}
			for _, s := range o.Symbols {
				if s.Kind == obj.SymSection {
					continue
				}
				k := got.Lookup(s.Name)
				require.GreaterOrEqual(t, k, 0, s.Name)
				g := got.Symbols[k]
				require.Equal(t, s.Bind, g.Bind, s.Name)
				require.Equal(t, s.Value, g.Value, s.Name)
				if s.Section < 0 {
					require.Equal(t, s.Section, g.Section, s.Name)
				} else {
					require.Equal(t, atom(s.Section), g.Section, s.Name)
				}
			}
			// A second trip is a fixed point.
			b2, err := WriteObject(got)
			require.NoError(t, err)
			again, err := ReadObject(o.Name, b2)
			require.NoError(t, err)
			require.Equal(t, symbolSummary(got), symbolSummary(again))
			require.Equal(t, relocLines(got), relocLines(again))
			b3, err := WriteObject(again)
			require.NoError(t, err)
			require.Equal(t, b2, b3)
		})
	}
}

// targetOf describes what r refers to: an undefined symbol by name, or a
// section (mapped by atom) and offset, with the addend folded in.
func targetOf(o *obj.Object, r obj.Reloc, atom func(int) int) string {
	s := o.Symbols[r.Sym]
	if s.Section < 0 {
		return fmt.Sprintf("%s%+d", s.Name, r.Addend)
	}
	return fmt.Sprintf("section %d%+d", atom(s.Section), int64(s.Value)+r.Addend)
}

// TestReadAgreesWithLLVM reads objects from llvm-mc and clang and checks
// every symbol and relocation against llvm-nm and llvm-objdump: the
// symbol's address in the object, its section and its external bit, and
// each relocation's address and type.
func TestReadAgreesWithLLVM(t *testing.T) {
	nm := tools.Require(t, "llvm-nm")
	objdump := tools.Require(t, "llvm-objdump")
	dir := t.TempDir()
	inputs := map[string][]byte{
		"all.o": assemble(t, dir, "all.o", asmAll),
		"c.o":   compile(t, dir, "c.o", cSource),
		"c0.o":  compile(t, dir, "c0.o", cSource, "-O0", "-g"),
		"c2.o":  compile(t, dir, "c2.o", cSource2, "-O2"),
		"w.o":   compile(t, dir, "w.o", cWeak),
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			r := &reader{name: name, data: data}
			o, err := r.read()
			require.NoError(t, err)
			require.NoError(t, o.Validate())
			// origin[i] is the object address of model section i.
			origin := make([]uint64, len(o.Sections))
			segsect := make([]string, len(o.Sections))
			for _, s := range r.sects {
				for _, a := range s.atoms {
					origin[a.model] = s.addr + a.start
					segsect[a.model] = s.full
				}
			}
			p := filepath.Join(dir, name)
			// llvm-nm -m: "ADDR (SEG,SECT) [external] NAME" or "(undefined) external NAME".
			out, _ := run(t, dir, nm.Path, "-m", p)
			var theirs, ours []string
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				theirs = append(theirs, strings.Join(strings.Fields(line), " "))
			}
			for k, s := range r.syms {
				if s.typ&nStab != 0 {
					continue
				}
				if s.private() {
					ours = append(ours, fmt.Sprintf("%016x (%s) non-external %s", s.value, r.sects[s.sect-1].full, s.name))
					continue
				}
				m := o.Symbols[r.model[k]]
				ext := "non-external"
				if m.Bind != obj.Local {
					ext = "external"
				}
				if m.Bind != obj.Local && s.typ&nPext != 0 {
					ext = "private " + ext // the model has no visibility: a Global
				}
				if m.Bind == obj.Weak {
					ext = "weak " + ext
				}
				switch m.Section {
				case obj.Undef:
					ours = append(ours, fmt.Sprintf("(undefined) %s %s", ext, s.name))
				case obj.Abs:
					ours = append(ours, fmt.Sprintf("%016x (absolute) %s %s", m.Value, ext, s.name))
				default:
					ours = append(ours, fmt.Sprintf("%016x (%s) %s %s", origin[m.Section]+m.Value, segsect[m.Section], ext, s.name))
				}
			}
			sort.Strings(theirs)
			sort.Strings(ours)
			require.Equal(t, theirs, ours)

			// Relocations: llvm-objdump's table against the model's, by
			// object address. A SUBTRACTOR pair is one model relocation.
			out, _ = run(t, dir, objdump.Path, "--macho", "-r", p)
			relRe := regexp.MustCompile(`^([0-9a-f]{8}) (True|False) +(\w+) +(True|False) +(\w+) +False +(.*)$`)
			var sect, prev string
			theirs, ours = nil, nil
			dropped := map[string]bool{}
			for _, s := range r.sects {
				dropped[s.full] = s.drop
			}
			for _, line := range strings.Split(out, "\n") {
				if m := regexp.MustCompile(`^Relocation information \((\S+)\)`).FindStringSubmatch(line); m != nil {
					sect = m[1]
					continue
				}
				m := relRe.FindStringSubmatch(line)
				if m == nil || dropped[sect] {
					continue
				}
				afterSub := prev == "SUB"
				prev = m[5]
				if afterSub {
					continue // the UNSIGNED of a pair
				}
				a, err := strconv.ParseUint(m[1], 16, 64)
				require.NoError(t, err)
				theirs = append(theirs, fmt.Sprintf("%s+%#x %s", sect, a, m[5]))
			}
			kindName := map[obj.RelocKind]string{obj.Abs64: "UNSIGND", obj.Branch32: "BRANCH", obj.GOTLoad32: "GOT_LD", obj.GOTPCRel32: "GOT"}
			for i, s := range o.Sections {
				var sec *rsect
				for _, rs := range r.sects {
					if rs.full == segsect[i] {
						sec = rs
					}
				}
				for _, rel := range s.Relocs {
					addr := origin[i] + rel.Offset - sec.addr
					k := kindName[rel.Kind]
					if rel.Kind == obj.PCRel32 {
						// SIGNED_n by the bytes the instruction has after the field.
						k = "SIGNED"
						if s.Kind != obj.Text {
							k = "SUB"
						}
					}
					ours = append(ours, fmt.Sprintf("%s+%#x %s", segsect[i], addr, k))
				}
			}
			// llvm-objdump says SIGNED1 etc.; the model keeps only the addend.
			for i, l := range theirs {
				theirs[i] = regexp.MustCompile(`SIGNED\d$`).ReplaceAllString(l, "SIGNED")
			}
			sort.Strings(theirs)
			sort.Strings(ours)
			require.Equal(t, theirs, ours)
		})
	}
}

// TestReadLinkAgrees is the reader's end-to-end oracle: objects from
// llvm-mc, clang and WriteObject are linked by ld64.lld as they are, and
// again after ReadObject and WriteObject; the two executables must show
// the same program: every function's instructions with each branch and
// RIP-relative operand resolved to a symbol (or to the contents of an
// anonymous literal, or a GOT slot's symbol), every rebased pointer's site
// and target, and the same defined symbols.
func TestReadLinkAgrees(t *testing.T) {
	tools.Require(t, "ld64.lld")
	objdump := tools.Require(t, "llvm-objdump")
	dir := t.TempDir()
	fa, err := WriteObject(fixtureA())
	require.NoError(t, err)
	fb, err := WriteObject(objtest.Library("b.o"))
	require.NoError(t, err)
	programs := []struct {
		name string
		objs map[string][]byte
	}{
		{"asm", map[string][]byte{"all.o": assemble(t, dir, "all.o", asmAll), "lib.o": assemble(t, dir, "lib.o", asmLib)}},
		{"clang", map[string][]byte{"c.o": compile(t, dir, "c.o", cSource), "main.o": assemble(t, dir, "main.o", cMain)}},
		{"clang -O0 -g", map[string][]byte{"c.o": compile(t, dir, "c0.o", cSource, "-O0", "-g"), "c2.o": compile(t, dir, "c2.o", cSource2, "-O0", "-g"), "main.o": assemble(t, dir, "main.o", cMain)}},
		{"clang -O2", map[string][]byte{"c.o": compile(t, dir, "c2.o", cSource, "-O2"), "c2.o": compile(t, dir, "c22.o", cSource2, "-O2"), "main.o": assemble(t, dir, "main.o", cMain)}},
		{"writer", map[string][]byte{"a.o": fa, "b.o": fb}},
	}
	for _, p := range programs {
		t.Run(p.name, func(t *testing.T) {
			var orig, again []string
			names := make([]string, 0, len(p.objs))
			for n := range p.objs {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				o, err := ReadObject(n, p.objs[n])
				require.NoError(t, err)
				b, err := WriteObject(o)
				require.NoError(t, err)
				orig = append(orig, writeFile(t, dir, p.name+"-orig-"+n, p.objs[n]))
				again = append(again, writeFile(t, dir, p.name+"-again-"+n, b))
			}
			v1 := linkView(t, dir, objdump.Path, p.name+"-orig.out", orig)
			v2 := linkView(t, dir, objdump.Path, p.name+"-again.out", again)
			require.Equal(t, v1, v2)
			require.NotEmpty(t, v1)
			if p.name == "clang -O2" {
				require.Contains(t, strings.Join(v1, "\n"), `reltable("zero","one","two","three","four")`)
			}
		})
	}
}

// linkView links objs with ld64.lld and renders the executable without
// its layout.
func linkView(t *testing.T, dir, objdump, out string, objs []string) []string {
	t.Helper()
	exe := filepath.Join(dir, out)
	ld := tools.Require(t, "ld64.lld")
	stdout, stderr := run(t, dir, ld.Path, append([]string{"-arch", "x86_64", "-platform_version", "macos", "11.0", "11.0", "-e", "__start", "-o", exe}, objs...)...)
	require.Empty(t, stdout+stderr, "ld64.lld printed warnings")
	data, err := os.ReadFile(exe)
	require.NoError(t, err)
	f, err := macho.NewFile(bytes.NewReader(data))
	require.NoError(t, err)

	// Named symbols by address; labels the reader or writer synthesizes
	// (L..., ltmpN) and l_ private labels do not name anything.
	type named struct {
		name string
		addr uint64
		sect uint8
	}
	var syms []named
	for _, s := range f.Symtab.Syms {
		n := strings.TrimPrefix(s.Name, "_")
		if s.Type&nTypeMask != nSect || strings.HasPrefix(n, "L") || strings.HasPrefix(n, ".L") || strings.HasPrefix(n, "ltmp") || strings.HasPrefix(n, "l_") || n == "_mh_execute_header" {
			continue
		}
		syms = append(syms, named{s.Name, s.Value, s.Sect})
	}
	sort.Slice(syms, func(a, b int) bool {
		return syms[a].addr < syms[b].addr || syms[a].addr == syms[b].addr && syms[a].name < syms[b].name
	})
	section := func(a uint64) (int, *macho.Section) {
		for i, s := range f.Sections {
			if a >= s.Addr && a < s.Addr+s.Size {
				return i, s
			}
		}
		return -1, nil
	}
	word := func(a uint64) uint64 {
		_, s := section(a)
		require.NotNil(t, s, "address %#x", a)
		b, err := s.Data()
		require.NoError(t, err)
		return binary.LittleEndian.Uint64(b[a-s.Addr:])
	}
	var name func(a uint64) string
	name = func(a uint64) string {
		si, s := section(a)
		if s == nil {
			return fmt.Sprintf("outside(%#x)", a)
		}
		if s.Name == "__got" {
			return "got(" + name(word(a)) + ")"
		}
		// The nearest named symbol at or before a in the same section,
		// unless a synthesized label lies between them.
		best := -1
		for i, sy := range syms {
			if sy.addr <= a && int(sy.sect) == si+1 {
				best = i
			}
		}
		if best >= 0 {
			blocked := false
			for _, sy := range f.Symtab.Syms {
				n := strings.TrimPrefix(sy.Name, "_")
				if int(sy.Sect) == si+1 && sy.Value > syms[best].addr && sy.Value <= a && (strings.HasPrefix(n, "L") || strings.HasPrefix(n, ".L") || strings.HasPrefix(n, "ltmp")) {
					blocked = true
				}
			}
			if !blocked {
				return fmt.Sprintf("%s+%#x", syms[best].name, a-syms[best].addr)
			}
		}
		// Anonymous: a literal, by its contents.
		b, err := s.Data()
		if err != nil || b == nil {
			return "anon(bss)"
		}
		rest := b[a-s.Addr:]
		if s.Flags&sectionTypeMask == sCstringLiterals {
			return fmt.Sprintf("anon(%q)", cstr(rest))
		}
		// A relative lookup table (clang's l_reltable): 4-byte offsets
		// from its start to C strings, which are rendered instead.
		var strs []string
		for i := 0; i+4 <= len(rest) && i < 64; i += 4 {
			ta := a + uint64(int64(int32(binary.LittleEndian.Uint32(rest[i:]))))
			_, ts := section(ta)
			if ts == nil || ts.Flags&sectionTypeMask != sCstringLiterals {
				break
			}
			tb, err := ts.Data()
			require.NoError(t, err)
			strs = append(strs, strconv.Quote(cstr(tb[ta-ts.Addr:])))
		}
		if len(strs) > 0 {
			return "reltable(" + strings.Join(strs, ",") + ")"
		}
		return fmt.Sprintf("anon(%x)", rest[:min(8, len(rest))])
	}
	var view []string
	// Symbols and the kind of their section.
	for _, sy := range syms {
		s := f.Sections[sy.sect-1]
		kind := "data"
		switch {
		case s.Flags&sAttrPureInstructions != 0:
			kind = "text"
		case s.Flags&sectionTypeMask == sZerofill:
			kind = "bss"
		}
		view = append(view, fmt.Sprintf("symbol %s %s", sy.name, kind))
	}
	// Code.
	dis, _ := run(t, dir, objdump, "-d", "--no-show-raw-insn", exe)
	insn := regexp.MustCompile(`^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$`)
	disp := regexp.MustCompile(`(-?0x[0-9a-f]+)?\(%rip\)`)
	comment := regexp.MustCompile(`\s*## 0x[0-9a-f]+( <[^>]*>)?$`)
	target := regexp.MustCompile(`^0x([0-9a-f]+)( <[^>]*>)?$`)
	type line struct {
		at       uint64
		mnem, op string
	}
	var code []line
	for _, l := range strings.Split(dis, "\n") {
		if m := insn.FindStringSubmatch(l); m != nil {
			at, err := strconv.ParseUint(m[1], 16, 64)
			require.NoError(t, err)
			code = append(code, line{at, m[2], m[3]})
		}
	}
	for i, l := range code {
		ops := l.op
		if d := disp.FindStringSubmatch(ops); d != nil && i+1 < len(code) {
			// RIP-relative: from the end of the instruction, which is
			// where the next one starts (a function ends with ret).
			v, err := strconv.ParseInt(strings.Replace(d[1], "0x", "", 1), 16, 64)
			if d[1] == "" {
				v, err = 0, nil
			}
			require.NoError(t, err)
			ops = comment.ReplaceAllString(disp.ReplaceAllString(ops, "(%rip)"), "") + " -> " + name(code[i+1].at+uint64(v))
		} else if c := target.FindStringSubmatch(ops); c != nil {
			v, _ := strconv.ParseUint(c[1], 16, 64)
			ops = name(v)
		}
		view = append(view, fmt.Sprintf("%s: %s %s", name(l.at), l.mnem, ops))
	}
	// Pointers.
	reb, _ := run(t, dir, objdump, "--macho", "--rebase", exe)
	site := regexp.MustCompile(`^\S+\s+\S+\s+0x([0-9A-Fa-f]+)\s+pointer`)
	for _, line := range strings.Split(reb, "\n") {
		if m := site.FindStringSubmatch(line); m != nil {
			a, _ := strconv.ParseUint(m[1], 16, 64)
			view = append(view, fmt.Sprintf("pointer at %s = %s", name(a), name(word(a))))
		}
	}
	sort.Strings(view)
	return view
}

// benchObject is a workload like the linkers' synthetic one: funcs
// functions, each calling the next, and one data pointer per function.
func benchObject(funcs int) *obj.Object {
	o := &obj.Object{Name: "synth.o"}
	code := []byte{0xe8, 0, 0, 0, 0, 0xc3} // call next; ret
	for i := 0; i < funcs; i++ {
		o.Sections = append(o.Sections,
			&obj.Section{Name: ".text", Kind: obj.Text, Align: 16, Data: code, Size: uint64(len(code)),
				Relocs: []obj.Reloc{{Offset: 1, Kind: obj.Branch32, Sym: 2 * ((i + 1) % funcs), Addend: -4}}},
			&obj.Section{Name: ".data", Kind: obj.Data, Align: 8, Data: make([]byte, 8), Size: 8,
				Relocs: []obj.Reloc{{Offset: 0, Kind: obj.Abs64, Sym: 2 * i}}})
		o.Symbols = append(o.Symbols,
			&obj.Symbol{Name: fmt.Sprintf("f%d", i), Section: 2 * i, Bind: obj.Global, Kind: obj.SymFunc},
			&obj.Symbol{Name: fmt.Sprintf("p%d", i), Section: 2*i + 1, Bind: obj.Global, Kind: obj.SymData})
	}
	return o
}

// BenchmarkReadObject decodes an object of 1000 functions, each calling
// the next, and 1000 data pointers (the size of one object of the ELF
// reader's benchmark of the same name).
func BenchmarkReadObject(b *testing.B) {
	data, err := WriteObject(benchObject(1000))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ReadObject("synth.o", data); err != nil {
			b.Fatal(err)
		}
	}
}
