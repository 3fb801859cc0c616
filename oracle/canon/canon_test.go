package canon

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon/canontest"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/obj"
)

type linked struct {
	path string
	exe  []byte
	objs []*obj.Object
	im   *Image
}

func link(t *testing.T, extra ...string) *linked {
	t.Helper()
	dir := t.TempDir()
	paths, objs := canontest.Assemble(t, dir, "testdata/a.s", "testdata/b.s")
	out := filepath.Join(dir, "out")
	exe, _ := canontest.Link(t, paths, out, extra...)
	im, err := ReadELF(exe, objs)
	require.NoError(t, err)
	return &linked{path: out, exe: exe, objs: objs, im: im}
}

func insnTexts(s *Symbol) []string {
	var out []string
	for i := range s.Insns {
		out = append(out, s.Insns[i].Text())
	}
	return out
}

func TestReadELF(t *testing.T) {
	l := link(t)
	im := l.im
	require.Equal(t, "_start", im.Entry)
	require.Equal(t, PointersFromObjects, im.PointerSource)
	require.Empty(t, im.Notes)

	main := im.Lookup("main")
	require.NotNil(t, main)
	require.Equal(t, KindFunc, main.Kind)
	require.Equal(t, BindGlobal, main.Bind)
	require.Equal(t, "AX", main.Flags)
	got := insnTexts(main)
	require.Equal(t, "call dbl", got[3])
	require.Equal(t, "lea rcx, counter", got[4]) // relaxed GOT load
	require.Equal(t, "lea rax, twice", got[13])  // local function's address
	require.Equal(t, "lea rcx, helper", got[21])
	require.Equal(t, "jb @29", got[27]) // a branch inside the function
	require.Equal(t, "ret", got[len(got)-1])

	helper := im.Lookup("helper")
	require.Equal(t, KindNone, helper.Kind)
	require.True(t, helper.SizeInferred)
	require.Equal(t, uint64(13), helper.Size)
	require.Equal(t, uint64(3), helper.Padding)
	require.Equal(t, []string{"mov rax, qword ptr [arr+0x10]", "call dbl", "ret"}, insnTexts(helper))

	ptrs := im.Lookup("ptrs")
	require.Equal(t, []Pointer{
		{Off: 0, Size: 8, Kind: "abs64", Target: "&counter"},
		{Off: 8, Size: 8, Kind: "abs64", Target: "&arr+0x8"},
		{Off: 16, Size: 8, Kind: "abs64", Target: "&twice"},
	}, ptrs.Pointers)
	require.Equal(t, make([]byte, 24), ptrs.Data[:24], "pointer fields are zeroed")
	require.Equal(t, []byte{0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11}, ptrs.Data[24:])
	require.Equal(t, "&inc", im.Lookup("table").Pointers[0].Target)

	zeros := im.Lookup("zeros")
	require.True(t, zeros.BSS)
	require.Nil(t, zeros.Data)
	require.Equal(t, uint64(64), zeros.Size)

	require.Equal(t, &ErrTab{Names: []string{"OutOfMemory", "FileNotFound"}}, im.ErrTab)
	require.Equal(t, "local", im.Lookup("twice").Bind)

	text := im.Text()
	require.Contains(t, text, "symbol main func global size 0x66 in .text AX\n")
	require.Contains(t, text, "[abs64 &arr+0x8]")
	require.Contains(t, text, "errtab 2\n  1 \"OutOfMemory\"\n")
	require.NotRegexp(t, `0x20[0-9a-f]{4}\b`, text, "no absolute address may leak into the image")
}

// TestAnonymousData: a jump table in a section that no symbol names is
// located by its contents and named FILE:(SECTION), with its pointers;
// the code that indexes it and a merged string literal are named too.
func TestAnonymousData(t *testing.T) {
	l := link(t)
	require.Empty(t, l.im.Notes)
	jt := l.im.Lookup("b.o:(.rodata.jt)")
	require.NotNil(t, jt, "the jump table is a pseudo-symbol")
	require.True(t, jt.Anon)
	require.Equal(t, KindObject, jt.Kind)
	require.Equal(t, uint64(24), jt.Size)
	var targets []string
	for _, p := range jt.Pointers {
		targets = append(targets, p.Target)
	}
	require.Equal(t, []string{"&pick+0x7", "&pick+0xf", "&pick+0x7"}, targets) // after the 7-byte jmp
	require.Equal(t, []string{"jmp qword ptr [rdi*8+&b.o:(.rodata.jt)]", `lea rax, str"picked"`, "ret", "xor eax, eax", "ret"},
		insnTexts(l.im.Lookup("pick")))
	require.Contains(t, l.im.Text(), "symbol b.o:(.rodata.jt) object local size 0x18 in .rodata A anon\n")

	// Without the objects nothing says where the table is.
	bare, err := ReadELF(l.exe, nil)
	require.NoError(t, err)
	require.Nil(t, bare.Lookup("b.o:(.rodata.jt)"))
	require.Regexp(t, `^jmp qword ptr \[rdi\*8\+0x[0-9a-f]+\]$`, insnTexts(bare.Lookup("pick"))[0])
}

// TestPointerSources: without objects nothing is a pointer; an
// --emit-relocs executable supplies the same pointers as the objects.
func TestPointerSources(t *testing.T) {
	l := link(t)
	bare, err := ReadELF(l.exe, nil)
	require.NoError(t, err)
	require.Equal(t, PointersUnknown, bare.PointerSource)
	require.Empty(t, bare.Lookup("ptrs").Pointers)
	require.Equal(t, insnTexts(l.im.Lookup("main")), insnTexts(bare.Lookup("main")))

	q := link(t, "--emit-relocs")
	emit, err := ReadELF(q.exe, nil)
	require.NoError(t, err)
	require.Equal(t, PointersFromEmitRelocs, emit.PointerSource)
	for _, name := range []string{"ptrs", "table"} {
		require.Equal(t, l.im.Lookup(name).Pointers, emit.Lookup(name).Pointers, name)
	}
}

func TestDecodeErrTab(t *testing.T) {
	tab := func(offs []uint32, rest string) []byte {
		var b []byte
		for _, o := range offs {
			b = append(b, byte(o), byte(o>>8), byte(o>>16), byte(o>>24))
		}
		return append(b, rest...)
	}
	tests := []struct {
		name     string
		b        []byte
		inferred bool
		want     []string
		err      string
	}{
		{"two", tab([]uint32{12, 14, 17}, "A\x00BC\x00"), false, []string{"A", "BC"}, ""},
		{"empty table", tab([]uint32{4}, ""), false, []string{}, ""},
		{"inferred fill", tab([]uint32{8, 10}, "A\x00\x00\x00"), true, []string{"A"}, ""},
		{"short", []byte{4, 0}, false, nil, "shorter than its first offset"},
		{"first offset", tab([]uint32{6, 8}, "A\x00"), false, nil, "not a positive multiple of 4"},
		{"zero first", tab([]uint32{0}, ""), false, nil, "not a positive multiple of 4"},
		{"first past end", tab([]uint32{400}, ""), false, nil, "past the table's end"},
		{"offset past end", tab([]uint32{8, 99}, "A\x00"), false, nil, "offset 99 of error 1"},
		{"decreasing", tab([]uint32{12, 14, 13}, "A\x00B\x00"), false, nil, "offset 13 of error 2"},
		{"no NUL", tab([]uint32{8, 10}, "AB"), false, nil, "not NUL-terminated"},
		{"inner NUL", tab([]uint32{8, 11}, "A\x00\x00"), false, nil, "holds a NUL"},
		{"trailing", tab([]uint32{8, 10}, "A\x00Z"), false, nil, "1 bytes after the last name"},
		{"trailing zero explicit", tab([]uint32{8, 10}, "A\x00\x00"), false, nil, "1 bytes after the last name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodeErrTab(tt.b, tt.inferred)
			if tt.err != "" {
				require.Contains(t, got.Err, tt.err)
				require.Empty(t, got.Names)
				return
			}
			require.Empty(t, got.Err)
			require.Equal(t, tt.want, got.Names)
		})
	}
}

func TestReadELFMalformed(t *testing.T) {
	l := link(t)
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"garbage", []byte("not an elf file at all, not at all")},
		{"header only", l.exe[:64]},
		{"truncated", l.exe[:len(l.exe)/2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadELF(tt.data, l.objs)
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
}

func run(t *testing.T, tool string, args ...string) string {
	t.Helper()
	p := tools.Require(t, tool).Path
	out, err := exec.Command(p, args...).Output()
	require.NoError(t, err, "%s %v", tool, args)
	return string(out)
}

// TestCrossCheckLLVM: the reader's symbols, sections, instruction
// boundaries and reference targets agree with llvm-nm, llvm-readobj and
// llvm-objdump on the same files.
func TestCrossCheckLLVM(t *testing.T) {
	for _, extra := range [][]string{nil, {"--no-relax"}} {
		l := link(t, extra...)
		t.Run(strings.Join(append([]string{"link"}, extra...), " "), func(t *testing.T) {
			crossNM(t, l)
			crossReadobj(t, l)
			crossObjdump(t, l)
		})
	}
}

func crossNM(t *testing.T, l *linked) {
	// addr size type name
	nm := map[string][2]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(run(t, "llvm-nm", "--defined-only", "-S", l.path)), "\n") {
		f := strings.Fields(line)
		require.Len(t, f, 4, line)
		addr, err := strconv.ParseUint(f[0], 16, 64)
		require.NoError(t, err)
		size, err := strconv.ParseUint(f[1], 16, 64)
		require.NoError(t, err)
		nm[f[3]] = [2]uint64{addr, size}
		require.NotNil(t, l.im.Lookup(f[3]), "llvm-nm symbol %s missing from the image", f[3])
	}
	inTable := 0
	for _, s := range l.im.Symbols {
		if s.Anon {
			continue // a pseudo-symbol for data no symbol names
		}
		inTable++
		want, ok := nm[s.Name]
		require.True(t, ok, s.Name)
		require.Equal(t, want[0], s.addr, s.Name)
		if !s.SizeInferred {
			require.Equal(t, want[1], s.Size, s.Name)
		} else {
			require.Zero(t, want[1], s.Name)
		}
	}
	require.Equal(t, len(nm), inTable)
}

type readobjJSON []struct {
	Sections []struct {
		Section struct {
			Name  struct{ Value string }
			Flags struct {
				Flags []struct{ Name string }
			}
			Address uint64
			Size    uint64
		}
	}
	Symbols []struct {
		Symbol struct {
			Name    struct{ Value string }
			Value   uint64
			Size    uint64
			Binding struct{ Value string }
			Type    struct{ Value string }
			Section struct{ Value string }
		}
	}
}

func crossReadobj(t *testing.T, l *linked) {
	var doc readobjJSON
	require.NoError(t, json.Unmarshal([]byte(run(t, "llvm-readobj", "--elf-output-style=JSON", "--sections", "--symbols", l.path)), &doc))
	require.Len(t, doc, 1)
	secFlags := map[string]string{}
	for _, s := range doc[0].Sections {
		f := ""
		for _, fl := range s.Section.Flags.Flags {
			f += fl.Name + " "
		}
		if !strings.Contains(f, "SHF_ALLOC") || s.Section.Size == 0 {
			continue
		}
		want := "A"
		if strings.Contains(f, "SHF_WRITE") {
			want += "W"
		}
		if strings.Contains(f, "SHF_EXECINSTR") {
			want += "X"
		}
		secFlags[s.Section.Name.Value] = want
	}
	require.Len(t, l.im.Sections, len(secFlags))
	for _, s := range l.im.Sections {
		require.Equal(t, secFlags[s.Name], s.Flags, s.Name)
	}
	kinds := map[string]string{"Function": KindFunc, "Object": KindObject, "None": KindNone}
	binds := map[string]string{"Global": BindGlobal, "Local": BindLocal, "Weak": BindWeak}
	n := 0
	for _, e := range doc[0].Symbols {
		sym := e.Symbol
		s := l.im.Lookup(sym.Name.Value)
		if sym.Name.Value == "" {
			continue // the null symbol
		}
		if s == nil {
			require.Contains(t, []string{"Section", "File"}, sym.Type.Value, "symbol %q (%s) missing from the image", sym.Name.Value, sym.Type.Value)
			continue
		}
		n++
		require.Equal(t, kinds[sym.Type.Value], s.Kind, s.Name)
		require.Equal(t, binds[sym.Binding.Value], s.Bind, s.Name)
		require.Equal(t, sym.Section.Value, s.Section, s.Name)
		require.Equal(t, sym.Value, s.addr, s.Name)
		if !s.SizeInferred {
			require.Equal(t, sym.Size, s.Size, s.Name)
		}
	}
	require.Equal(t, tableSymbols(l.im), n)
}

// tableSymbols counts the image's symbols that come from the symbol table
// (not the pseudo-symbols of anonymous data).
func tableSymbols(im *Image) int {
	n := 0
	for _, s := range im.Symbols {
		if !s.Anon {
			n++
		}
	}
	return n
}

var (
	objdumpInsn   = regexp.MustCompile(`^\s*([0-9a-f]+):\s+((?:[0-9a-f]{2} )+)\s*(.*)$`)
	objdumpBranch = regexp.MustCompile(`^(?:call|jmp|j[a-z]+)\s+0x([0-9a-f]+)\b`)
	objdumpRIP    = regexp.MustCompile(`# 0x([0-9a-f]+)`)
)

func crossObjdump(t *testing.T, l *linked) {
	type line struct {
		n      int
		target uint64
		hasRef bool
	}
	insns := map[uint64]line{}
	for _, ln := range strings.Split(run(t, "llvm-objdump", "-d", "-M", "intel", l.path), "\n") {
		m := objdumpInsn.FindStringSubmatch(ln)
		if m == nil {
			continue
		}
		addr, err := strconv.ParseUint(m[1], 16, 64)
		require.NoError(t, err)
		x := line{n: len(strings.Fields(m[2]))}
		asm := strings.TrimSpace(m[3])
		if b := objdumpBranch.FindStringSubmatch(asm); b != nil {
			x.target, _ = strconv.ParseUint(b[1], 16, 64)
			x.hasRef = true
		} else if r := objdumpRIP.FindStringSubmatch(asm); r != nil {
			x.target, _ = strconv.ParseUint(r[1], 16, 64)
			x.hasRef = true
		}
		insns[addr] = x
	}
	compared := 0
	for _, s := range l.im.Symbols {
		for i := range s.Insns {
			in := &s.Insns[i]
			want, ok := insns[in.addr]
			require.True(t, ok, "%s insn %d at %#x is not an llvm-objdump instruction boundary", s.Name, i, in.addr)
			require.Equal(t, want.n, in.Len, "%s insn %d at %#x: length", s.Name, i, in.addr)
			require.Equal(t, want.hasRef, in.hasRef, "%s insn %d (%s): reference", s.Name, i, in.Text())
			if want.hasRef {
				require.Equal(t, want.target, in.target, "%s insn %d (%s): target", s.Name, i, in.Text())
			}
			compared++
		}
	}
	require.Greater(t, compared, 40)
}

// TestRead: Read tells the format by its magic. An ELF executable reads
// as with ReadELF; a real Mach-O, PE or Wasm link (by the LLVM tools) gets
// an error naming its format; bytes of no known format are malformed.
func TestRead(t *testing.T) {
	l := link(t)
	for _, objs := range [][]*obj.Object{l.objs, nil} {
		im, err := Read(l.exe, objs)
		require.NoError(t, err)
		want, err := ReadELF(l.exe, objs)
		require.NoError(t, err)
		require.Equal(t, want, im)
	}
	_, err := Read(l.exe[:64], l.objs)
	_, errELF := ReadELF(l.exe[:64], l.objs)
	require.ErrorIs(t, err, ErrMalformed)
	require.Equal(t, errELF.Error(), err.Error())

	dir := t.TempDir()
	build := func(triple, src string, linker string, args ...string) []byte {
		s := filepath.Join(dir, triple+".s")
		o := filepath.Join(dir, triple+".o")
		out := filepath.Join(dir, triple+".out")
		require.NoError(t, os.WriteFile(s, []byte(src), 0o644))
		run(t, "llvm-mc", "-triple", triple, "-filetype=obj", "-o", o, s)
		for i := range args {
			args[i] = strings.NewReplacer("{out}", out, "{obj}", o).Replace(args[i])
		}
		run(t, linker, args...)
		data, err := os.ReadFile(out)
		require.NoError(t, err)
		return data
	}
	for _, tt := range []struct {
		format string
		f      obj.Format
		exe    []byte
	}{
		{"Mach-O", obj.MachO, build("x86_64-apple-macos11", ".globl __start\n__start:\n  ret\n",
			"ld64.lld", "-arch", "x86_64", "-platform_version", "macos", "11.0", "11.0", "-e", "__start", "-o", "{out}", "{obj}")},
		{"PE", obj.COFF, build("x86_64-windows-msvc", ".globl _start\n_start:\n  ret\n",
			"lld-link", "/entry:_start", "/subsystem:console", "/nodefaultlib", "/out:{out}", "{obj}")},
		{"Wasm", obj.Wasm, build("wasm32-unknown-unknown", ".globl _start\n_start:\n  .functype _start () -> ()\n  end_function\n",
			"wasm-ld", "--no-entry", "--export=_start", "-o", "{out}", "{obj}")},
	} {
		if loaders[tt.f].load != nil {
			continue // the format's loader has its own tests
		}
		_, err := Read(tt.exe, nil)
		require.ErrorIs(t, err, ErrUnsupported, tt.format)
		require.EqualError(t, err, "canon: unsupported format: "+tt.format+" executables are not supported yet")
	}
	for _, tt := range []struct {
		data []byte
		msg  string
	}{
		{nil, "empty file is not an executable"},
		{[]byte("#!/bin/sh\n"), "unknown executable format (first bytes 23 21 2f 62 69 6e 2f 73)"},
		{[]byte{0x7f}, "unknown executable format (first bytes 7f)"},
		{[]byte{0x64, 0x86, 1, 0}, "COFF object file (x86_64), not a linked PE image"},
	} {
		_, err := Read(tt.data, nil)
		require.ErrorIs(t, err, ErrMalformed)
		require.EqualError(t, err, "canon: malformed executable: "+tt.msg)
	}
}
