package macho

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/obj/objtest"
)

// TestEncodeRebases checks the rebase opcodes of one segment's pointers
// against ld64.lld's bytes for the same offsets.
func TestEncodeRebases(t *testing.T) {
	tests := []struct {
		name string
		offs []uint64
		want string
	}{
		{"one", []uint64{0}, "220051"},
		{"adjacent", []uint64{0, 8, 16}, "220053"},
		// ld64.lld's bytes for c.s of docs/macho.md's checks: a stride
		// of 16, an increment, three adjacent, a scaled increment, two.
		{"mixed", []uint64{0, 0x10, 0x28, 0x30, 0x38, 0x58, 0x60}, "2200800208415343" + "52"},
		{"many", func() []uint64 {
			var o []uint64
			for i := uint64(0); i < 20; i++ {
				o = append(o, 0x100+8*i)
			}
			return o
		}(), "22800260" + "14"},
		{"far pair", []uint64{0, 0x1000}, "2200" + "8002f81f"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := hex.EncodeToString(encodeRebases(nil, 2, tc.offs))
			require.Equal(t, tc.want, got)
		})
	}
}

// TestExportTrie checks the trie against ld64.lld's bytes for the same
// symbols in the same order (c.s: __start, _p, __mh_execute_header).
func TestExportTrie(t *testing.T) {
	syms := []exported{{name: "__start", address: 0x3d0}, {name: "_p", address: 0x1000}, {name: "__mh_execute_header"}}
	got := pad8(exportTrieOf(syms))
	want := "00015f000500025f000d7000320002737461727400296d685f657865637574655f686561646572002e0300d0070002000000030080200000"
	require.Equal(t, want, hex.EncodeToString(got))
	require.Nil(t, exportTrieOf(nil))
}

// uuidAt returns the offset of LC_UUID's bytes in a Mach-O file.
func uuidAt(t *testing.T, f []byte) int {
	t.Helper()
	le := binary.LittleEndian
	n, off := int(le.Uint32(f[16:])), machHeaderSize
	for i := 0; i < n; i++ {
		if le.Uint32(f[off:]) == lcUUID {
			return off + 8
		}
		off += int(le.Uint32(f[off+4:]))
	}
	t.Fatal("no LC_UUID")
	return 0
}

// requireLLDBytes checks that ref is ld64.lld's file but for LC_UUID.
func requireLLDBytes(t *testing.T, lld, ref []byte) {
	t.Helper()
	a, b := bytes.Clone(lld), bytes.Clone(ref)
	clear(a[uuidAt(t, a):][:16])
	clear(b[uuidAt(t, b):][:16])
	if !bytes.Equal(a, b) {
		i := 0
		for i < len(a) && i < len(b) && a[i] == b[i] {
			i++
		}
		t.Fatalf("files of %d and %d bytes differ first at %#x", len(a), len(b), i)
	}
}

// noUnwind keeps clang from writing unwind information, which the reader
// drops and ld64.lld turns into __unwind_info and __eh_frame.
const noUnwind = "-fno-asynchronous-unwind-tables"

// TestLinkLikeLLD links the reader's test programs (llvm-mc, clang at
// -O1, -O0 and -O2 without unwind tables, WriteObject's fixture) with
// ld64.lld and with the reference linker: the same bytes but LC_UUID. The fixture is also
// linked from the code generator's in-memory objects (ELF-style section
// names, named by kind), to the same bytes.
func TestLinkLikeLLD(t *testing.T) {
	ld := tools.Require(t, "ld64.lld")
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
		{"clang", map[string][]byte{"c.o": compile(t, dir, "c.o", cSource, "-O1", noUnwind), "main.o": assemble(t, dir, "main.o", cMain)}},
		{"clang -O0", map[string][]byte{"c.o": compile(t, dir, "c0.o", cSource, "-O0", noUnwind), "c2.o": compile(t, dir, "c2.o", cSource2, "-O0", noUnwind), "main.o": assemble(t, dir, "main.o", cMain)}},
		{"clang -O2", map[string][]byte{"c.o": compile(t, dir, "c2.o", cSource, "-O2", noUnwind), "c2.o": compile(t, dir, "c22.o", cSource2, "-O2", noUnwind), "main.o": assemble(t, dir, "main.o", cMain)}},
		{"writer", map[string][]byte{"a.o": fa, "b.o": fb}},
	}
	for _, p := range programs {
		t.Run(p.name, func(t *testing.T) {
			var names, paths []string
			for n := range p.objs {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				paths = append(paths, writeFile(t, dir, p.name+"-"+n, p.objs[n]))
			}
			out := filepath.Join(dir, p.name+".out")
			run(t, dir, ld.Path, append([]string{"-arch", "x86_64", "-platform_version", "macos", "11.0", "11.0", "-e", "__start", "-o", out}, paths...)...)
			lld, err := os.ReadFile(out)
			require.NoError(t, err)
			ref, _, err := LinkFiles(paths, link.Options{})
			require.NoError(t, err)
			requireLLDBytes(t, lld, ref)
			if p.name == "writer" {
				// The same objects in memory: the same file but for the
				// alignment padding in code, which WriteObject writes as
				// nops into the objects and the linker leaves zero.
				mem, _, err := Link([]*obj.Object{fixtureA(), objtest.Library("b.o")}, link.Options{})
				require.NoError(t, err)
				require.Len(t, mem, len(lld))
				lc := machHeaderSize + int(binary.LittleEndian.Uint32(lld[20:]))
				a, b := bytes.Clone(lld[:lc]), bytes.Clone(mem[:lc])
				clear(a[uuidAt(t, a):][:16])
				clear(b[uuidAt(t, b):][:16])
				require.Equal(t, a, b, "load commands")
			}
		})
	}
}

// TestLinkErrors checks the platform's refusals: a relocation Mach-O
// executables cannot hold, an undefined symbol, no entry.
func TestLinkErrors(t *testing.T) {
	code := func(k obj.RelocKind, sym string) *obj.Object {
		return &obj.Object{Name: "a.o",
			Sections: []*obj.Section{{Name: "__TEXT,__text", Kind: obj.Text, Align: 16, Data: make([]byte, 16), Size: 16,
				Relocs: []obj.Reloc{{Offset: 4, Kind: k, Sym: 1, Addend: -4}}}},
			Symbols: []*obj.Symbol{{Name: "_start", Section: 0, Bind: obj.Global, Kind: obj.SymFunc, Size: 16},
				{Name: sym, Section: obj.Undef, Bind: obj.Global}}}
	}
	tests := []struct {
		name string
		o    *obj.Object
		want string
	}{
		{"abs32", func() *obj.Object {
			o := code(obj.Abs32, "_start")
			o.Symbols = o.Symbols[:1]
			o.Sections[0].Relocs[0].Sym = 0
			return o
		}(),
			"a.o:(__TEXT,__text+0x4): relocation X86_64_RELOC_UNSIGNED (4 bytes) is not supported in a macho executable"},
		{"undefined", code(obj.Branch32, "g"), "undefined symbol: g\n>>> referenced by a.o:(__TEXT,__text+0x4)"},
		{"no entry", func() *obj.Object {
			o := code(obj.Branch32, "g")
			o.Symbols[0].Name = "main"
			o.Symbols[1].Section = 0
			return o
		}(),
			"cannot find entry symbol _start"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Link([]*obj.Object{tc.o}, link.Options{})
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestPlatformTables checks the platform's section names and ranks.
func TestPlatformTables(t *testing.T) {
	var p Exe
	for _, tc := range []struct {
		s    obj.Section
		want string
	}{
		{obj.Section{Name: "__TEXT,__text", Kind: obj.Text}, "__TEXT,__text"},
		{obj.Section{Name: "__DATA,__const", Kind: obj.ROData}, "__DATA_CONST,__const"},
		{obj.Section{Name: "__TEXT,__literal8", Kind: obj.ROData}, "__TEXT,__literals"},
		{obj.Section{Name: "__TEXT,__literal16", Kind: obj.ROData}, "__TEXT,__literals"},
		{obj.Section{Name: ".text.f", Kind: obj.Text}, "__TEXT,__text"},
		{obj.Section{Name: ".rodata.k", Kind: obj.ROData}, "__TEXT,__const"},
		{obj.Section{Name: ".rodata.t", Kind: obj.ROData, Relocs: []obj.Reloc{{}}}, "__DATA_CONST,__const"},
		{obj.Section{Name: ".rodata.str1.1", Kind: obj.ROData, Merge: true, Strings: true, EntSize: 1, Data: []byte("a\x00")}, "__TEXT,__cstring"},
		{obj.Section{Name: ".data.g", Kind: obj.Data}, "__DATA,__data"},
		{obj.Section{Name: ".bss.z", Kind: obj.BSS}, "__DATA,__bss"},
	} {
		require.Equal(t, tc.want, p.OutputSectionName(&tc.s), tc.s.Name)
	}
	order := []*link.Section{
		{Name: "__TEXT,__text", Kind: obj.Text},
		{Name: "__TEXT,__cstring", Kind: obj.ROData},
		{Name: "__DATA_CONST,__got", Kind: obj.Data, GOT: true},
		{Name: "__DATA_CONST,__const", Kind: obj.ROData},
		{Name: "__DATA,__data", Kind: obj.Data},
		{Name: "__DATA,__bss", Kind: obj.BSS},
	}
	for i := 1; i < len(order); i++ {
		require.Less(t, p.SectionRank(order[i-1]), p.SectionRank(order[i]), "%s before %s", order[i-1].Name, order[i].Name)
	}
	require.Equal(t, "__TEXT", p.SegmentKey(nil))
	require.Equal(t, "__DATA_CONST", p.SegmentKey(order[2]))
}
