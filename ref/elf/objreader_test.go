package elf

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/obj/objtest"
	"github.com/stretchr/testify/require"
)

// symbolSummary renders every symbol with its section by name, so that two
// objects compare equal whatever the symbol order.
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

// exactRelocs renders relocations with symbol names, without normalizing.
func exactRelocs(o *obj.Object) []string {
	var out []string
	for _, s := range o.Sections {
		for _, r := range s.Relocs {
			out = append(out, fmt.Sprintf("%s+%#x %s %s%+d", s.Name, r.Offset, r.Kind, o.Symbols[r.Sym].Name, r.Addend))
		}
	}
	return out
}

func roundTripObjects() []*obj.Object {
	abs := &obj.Object{
		Name: "abs.o",
		Sections: []*obj.Section{
			{Name: ".text", Kind: obj.Text, Align: 1, Data: make([]byte, 16), Size: 16, Relocs: []obj.Reloc{
				{Offset: 0, Kind: obj.Abs32, Sym: 0, Addend: 3},
				{Offset: 4, Kind: obj.Abs32S, Sym: 1, Addend: -1},
				{Offset: 8, Kind: obj.Abs64, Sym: 2},
			}},
			{Name: ".data", Kind: obj.Data, Align: 4096, Data: []byte{1, 2, 3}, Size: 3},
		},
		Symbols: []*obj.Symbol{
			{Name: "w", Section: obj.Undef, Bind: obj.Weak},
			{Name: "absval", Section: obj.Abs, Value: 0x1234, Bind: obj.Global},
			{Name: "dw", Section: 1, Value: 1, Bind: obj.Weak, Kind: obj.SymData, Size: 2},
		},
	}
	return []*obj.Object{fixtureA(), objtest.Library("b.o"), abs, {Name: "empty.o"}}
}

func TestRoundTrip(t *testing.T) {
	for _, o := range roundTripObjects() {
		t.Run(o.Name, func(t *testing.T) {
			b, err := WriteObject(o)
			require.NoError(t, err)
			got, err := ReadObject(o.Name, b)
			require.NoError(t, err)
			require.Len(t, got.Sections, len(o.Sections))
			for i, s := range o.Sections {
				g := got.Sections[i]
				require.Equal(t, s.Name, g.Name)
				require.Equal(t, s.Kind, g.Kind)
				require.Equal(t, s.Align, g.Align)
				require.Equal(t, s.Size, g.Size)
				require.Equal(t, len(s.Data), len(g.Data))
				if len(s.Data) > 0 {
					require.Equal(t, s.Data, g.Data)
				}
				require.Equal(t, s.Merge, g.Merge)
				require.Equal(t, s.Strings, g.Strings)
				require.Equal(t, s.EntSize, g.EntSize)
			}
			require.Equal(t, symbolSummary(o), symbolSummary(got))
			require.Equal(t, exactRelocs(o), exactRelocs(got))
			// Writing what was read gives the same bytes.
			b2, err := WriteObject(got)
			require.NoError(t, err)
			require.Equal(t, b, b2)
		})
	}
}

func TestWriteObjectErrors(t *testing.T) {
	o := fixtureA()
	o.Sections[0].Relocs[0].Kind = obj.ImageRel32
	_, err := WriteObject(o)
	require.ErrorContains(t, err, "a.o: section .text._start: reloc 0 at offset 0x1: relocation kind imagerel32 has no ELF x86_64 equivalent")

	o = fixtureA()
	o.Symbols[0].Section = 9
	_, err = WriteObject(o)
	require.ErrorContains(t, err, "section index 9 out of range")
}

// assemble runs llvm-mc on src for x86_64 Linux and returns the object.
func assemble(t *testing.T, src string) []byte {
	t.Helper()
	mc := tools.Require(t, "llvm-mc")
	dir := t.TempDir()
	p := writeFile(t, dir, "x.s", []byte(src))
	out := filepath.Join(dir, "x.o")
	run(t, dir, mc.Path, "-triple", "x86_64-linux-gnu", "-filetype=obj", "-o", out, p)
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	return b
}

func TestReadObjectUnsupported(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"tlsdesc", ".text\nleaq x@tlsdesc(%rip), %rax\n", "a.o: section .text: reloc 0 at offset 0x3: relocation R_X86_64_GOTPC32_TLSDESC is not supported"},
		{"got32", ".text\nmovq x@GOT, %rax\n", "relocation R_X86_64_GOT32 is not supported"},
		{"executable tls", ".section .tx,\"axT\",@progbits\nnop\n", "a.o: section .tx: thread-local SHT_PROGBITS section that is executable or not PROGBITS/NOBITS is not supported"},
		{"writable executable nobits", ".section .xb,\"awx\",@nobits\n.zero 4\n", "a.o: section .xb: non-empty writable executable SHT_NOBITS section is not supported"},
		{"non-default version", ".text\n.globl f\n.symver f, g@V1\nf: ret\n", "symbol 2 \"g@V1\": non-default symbol version (NAME@VER) is not supported"},
		{"undefined ifunc", ".text\ncall f@PLT\n.type f, @gnu_indirect_function\n", "symbol 1 \"f\": undefined or absolute indirect function (STT_GNU_IFUNC) is not supported"},
		{"unwind not eh_frame", ".section .unw,\"a\",@unwind\n.long 0\n", "a.o: section .unw: SHT_X86_64_UNWIND section not named .eh_frame is not supported"},
		{"read-only init_array", ".section .ia,\"a\",@init_array\n.quad 0\n", "a.o: section .ia: read-only SHT_INIT_ARRAY is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadObject("a.o", assemble(t, tt.src))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
			require.True(t, errors.Is(err, ErrUnsupported), "%v", err)
		})
	}
}

func TestReadObjectMalformed(t *testing.T) {
	good, err := WriteObject(fixtureA())
	require.NoError(t, err)
	le := binary.LittleEndian
	shoff := le.Uint64(good[40:])
	mutate := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"magic", mutate(func(b []byte) { b[0] = 0 }), "bad magic"},
		{"truncated", good[:len(good)-10], "past the end of the file"},
		{"shoff", mutate(func(b []byte) { le.PutUint64(b[40:], 1<<62) }), "past the end of the file"},
		{"section size", mutate(func(b []byte) { le.PutUint64(b[shoff+shdrSize+32:], 1<<40) }), "past the end of the file"},
		{"shstrndx", mutate(func(b []byte) { le.PutUint16(b[62:], 999) }), "section name table index 999 out of range"},
		{"exec", mutate(func(b []byte) { le.PutUint16(b[16:], 2) }), "want ET_REL"},
		{"align", mutate(func(b []byte) { le.PutUint64(b[shoff+shdrSize+48:], 3) }), "alignment 3 is not a power of two"},
	}
	// A relocation section whose sh_info names no section of code or data
	// (0, itself, the symbol table) is refused, not dropped.
	shnum := int(le.Uint16(good[60:]))
	rela, symtab := -1, -1
	for i := 0; i < shnum; i++ {
		switch elf.SectionType(le.Uint32(good[shoff+uint64(i)*shdrSize+4:])) {
		case elf.SHT_RELA:
			if rela < 0 {
				rela = i
			}
		case elf.SHT_SYMTAB:
			symtab = i
		}
	}
	require.Positive(t, rela)
	for _, info := range []int{0, rela, symtab} {
		tests = append(tests, struct {
			name string
			data []byte
			want string
		}{fmt.Sprintf("rela sh_info %d", info), mutate(func(b []byte) { le.PutUint32(b[shoff+uint64(rela)*shdrSize+44:], uint32(info)) }),
			fmt.Sprintf("has invalid sh_info (%d)", info)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadObject("a.o", tt.data)
			require.ErrorContains(t, err, tt.want)
			require.ErrorContains(t, err, "a.o")
		})
	}
}

// TestReadClang reads a C object from clang and links it with our own
// entry object.
func TestReadClang(t *testing.T) {
	clang := tools.Require(t, "clang")
	dir := t.TempDir()
	src := writeFile(t, dir, "c.c", []byte(`
static const char msg[] = "hello";
static long counter = 7;
long table[2];
static long twice(long x) { return 2 * x; }
long (*fp)(long) = twice;
extern long ext;
long f(void) { counter += fp(msg[1]); table[1] = counter; return counter + ext + table[1]; }
`))
	out := filepath.Join(dir, "c.o")
	run(t, dir, clang.Path, "--target=x86_64-linux-gnu", "-O1", "-fno-pic", "-fno-asynchronous-unwind-tables", "-fno-common", "-c", "-o", out, src)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	o, err := ReadObject("c.o", data)
	require.NoError(t, err)
	require.GreaterOrEqual(t, o.Lookup("f"), 0)
	require.Equal(t, obj.Global, o.Symbols[o.Lookup("f")].Bind)
	require.Equal(t, obj.Undef, o.Symbols[o.Lookup("ext")].Section)
	table := o.Symbols[o.Lookup("table")]
	require.Equal(t, obj.BSS, o.Sections[table.Section].Kind)
	// Rewriting clang's object with our writer keeps it linkable.
	b, err := WriteObject(o)
	require.NoError(t, err)
	again, err := ReadObject("c2.o", b)
	require.NoError(t, err)
	require.Equal(t, symbolSummary(o), symbolSummary(again))
	require.Equal(t, exactRelocs(o), exactRelocs(again))
}
