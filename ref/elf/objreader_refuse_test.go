package elf

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
)

// refuseSrc assembles to an object with locals (a section symbol, f, x),
// globals (_start, y) and a relocation section: the base of the
// mutations of TestReadObjectRefusedAsLLD.
const refuseSrc = `.text
.globl _start
.type _start,@function
_start:
  call f
  mov $60, %eax
  syscall
.type f,@function
f: ret
.data
x: .quad f
.globl y
y: .quad _start
`

// objLayout locates what the mutations change in an llvm-mc object.
type objLayout struct {
	shoff          uint64
	symtab, strtab int    // section indexes
	symOff         uint64 // file offset of the symbol table
	nsym           int
	firstGlobal    int
}

func layoutOf(t *testing.T, b []byte) objLayout {
	t.Helper()
	le := binary.LittleEndian
	l := objLayout{shoff: le.Uint64(b[40:]), symtab: -1}
	for i := 0; i < int(le.Uint16(b[60:])); i++ {
		h := b[l.shoff+uint64(i)*shdrSize:]
		if elf.SectionType(le.Uint32(h[4:])) == elf.SHT_SYMTAB {
			l.symtab, l.strtab = i, int(le.Uint32(h[40:]))
			l.symOff, l.nsym = le.Uint64(h[24:]), int(le.Uint64(h[32:])/symSize)
			l.firstGlobal = int(le.Uint32(h[44:]))
		}
	}
	require.Positive(t, l.symtab)
	require.Greater(t, l.nsym, l.firstGlobal)
	require.Greater(t, l.firstGlobal, 2)
	return l
}

// TestReadObjectRefusedAsLLD changes one field of a valid object at a
// time to a value ld.lld 16 refuses, and checks that ld.lld really refuses
// it (with its message) and that ReadObject does too, as a malformed file,
// naming the file, an offset and the field. Before, six of them were
// accepted and five refused with a message naming another cause.
// ld.lld's refusals were found by trying each header field on it: it
// accepts e_ident's version, OS/ABI and padding, e_version, e_ehsize,
// e_phentsize, e_phnum, e_flags and e_entry of a relocatable object, and
// symbols with empty names, so the reader does too.
func TestReadObjectRefusedAsLLD(t *testing.T) {
	ld := tools.Require(t, "ld.lld")
	good := assemble(t, refuseSrc)
	l := layoutOf(t, good)
	le := binary.LittleEndian
	shdr := func(i int) uint64 { return l.shoff + uint64(i)*shdrSize }
	sym := func(k int) uint64 { return l.symOff + uint64(k)*symSize }
	strtabEnd := func(b []byte) uint64 {
		return le.Uint64(b[shdr(l.strtab)+24:]) + le.Uint64(b[shdr(l.strtab)+32:])
	}
	tests := []struct {
		name   string
		mutate func(b []byte)
		lld    string // in ld.lld's error
		want   string // in ReadObject's error
	}{
		{"class", func(b []byte) { b[elf.EI_CLASS] = 3 },
			"corrupted ELF file: invalid file class", "e_ident[EI_CLASS] (offset 0x4) is 3: invalid file class"},
		{"data encoding", func(b []byte) { b[elf.EI_DATA] = 0 },
			"corrupted ELF file: invalid data encoding", "e_ident[EI_DATA] (offset 0x5) is 0: invalid data encoding"},
		{"shstrndx not a string table", func(b []byte) { le.PutUint16(b[62:], uint16(l.symtab)) },
			"invalid sh_type for string table section", "section name table (e_shstrndx 5) (section 5, header at offset 0x"},
		{"string table type", func(b []byte) { le.PutUint32(b[shdr(l.strtab)+4:], uint32(elf.SHT_PROGBITS)) },
			"invalid sh_type for string table section", "sh_type SHT_PROGBITS, want SHT_STRTAB"},
		{"string table empty", func(b []byte) { le.PutUint64(b[shdr(l.strtab)+32:], 0) },
			"string table section [index 1] is empty", "empty (sh_size 0)"},
		{"string table not NUL-terminated", func(b []byte) { b[strtabEnd(b)-1] = 'Z' },
			"is non-null terminated", "not NUL-terminated (last byte at offset 0x"},
		{"symtab sh_info 0", func(b []byte) { le.PutUint32(b[shdr(l.symtab)+44:], 0) },
			"invalid sh_info in symbol table", "section .symtab (header at offset 0x290): sh_info 0 (the first non-local symbol) out of range [1, 6]"},
		{"symtab sh_info past the symbols", func(b []byte) { le.PutUint32(b[shdr(l.symtab)+44:], uint32(l.nsym+1)) },
			"invalid sh_info in symbol table", "sh_info 7 (the first non-local symbol) out of range [1, 6]"},
		{"global before sh_info", func(b []byte) { le.PutUint32(b[shdr(l.symtab)+44:], uint32(l.firstGlobal+1)) },
			"non-local symbol (4) found at index < .symtab's sh_info (5)", `symbol 4 "_start" (at offset 0xc4): binding STB_GLOBAL before .symtab's sh_info 5`},
		{"local after sh_info", func(b []byte) { le.PutUint32(b[shdr(l.symtab)+44:], uint32(l.firstGlobal-1)) },
			"symbol (3) has invalid binding: 0", `symbol 3 "x" (at offset 0xac): STB_LOCAL at or after .symtab's sh_info 3`},
		{"null symbol global", func(b []byte) { b[sym(0)+4] = byte(elf.STB_GLOBAL) << 4 },
			"non-local symbol (0) found at index < .symtab's sh_info", "symbol 0 (at offset 0x64): binding STB_GLOBAL, want STB_LOCAL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]byte(nil), good...)
			tc.mutate(b)
			dir := t.TempDir()
			p := filepath.Join(dir, "a.o")
			require.NoError(t, os.WriteFile(p, b, 0o644))
			out, err := osexec.Command(ld.Path, p, "-o", filepath.Join(dir, "a.out")).CombinedOutput()
			require.Error(t, err, "ld.lld accepts it: %s", out)
			require.Contains(t, string(out), tc.lld)

			_, err = ReadObject("a.o", b)
			require.Error(t, err)
			require.True(t, errors.Is(err, ErrMalformed), "%v", err)
			require.ErrorContains(t, err, "a.o: ")
			require.ErrorContains(t, err, tc.want)
		})
	}
	// The unchanged object is accepted by both.
	_, err := ReadObject("a.o", good)
	require.NoError(t, err)
}
