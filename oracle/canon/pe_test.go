package canon

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/coff"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// peLink assembles corpus/asm/coff/NAME for x86_64-pc-windows-msvc and
// links it with lld-link (extra flags after the fixed ones); it returns
// the image and the objects as coff.ReadObject reads them.
func peLink(t testing.TB, name string, extra ...string) ([]byte, []*obj.Object, string) {
	t.Helper()
	mc := tools.Require(t, "llvm-mc")
	lld := tools.Require(t, "lld-link")
	srcs, err := filepath.Glob(filepath.Join("../../corpus/asm/coff", name, "*.s"))
	require.NoError(t, err)
	require.NotEmpty(t, srcs)
	sort.Strings(srcs)
	dir := t.TempDir()
	var paths []string
	var objs []*obj.Object
	for _, s := range srcs {
		o := filepath.Join(dir, filepath.Base(s)+".obj")
		out, err := exec.Command(mc.Path, "-filetype=obj", "-triple=x86_64-pc-windows-msvc", "-o", o, s).CombinedOutput()
		require.NoError(t, err, "%s", out)
		data, err := os.ReadFile(o)
		require.NoError(t, err)
		ob, err := coff.ReadObject(o, data)
		require.NoError(t, err)
		paths, objs = append(paths, o), append(objs, ob)
	}
	exe := filepath.Join(dir, "a.exe")
	args := append([]string{"/entry:_start", "/subsystem:console", "/nodefaultlib", "/out:" + exe}, extra...)
	out, err := exec.Command(lld.Path, append(args, paths...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	data, err := os.ReadFile(exe)
	require.NoError(t, err)
	return data, objs, exe
}

// readobjBaseRelocs lists the DIR64 base relocations llvm-readobj finds.
func readobjBaseRelocs(t *testing.T, exe string) []uint64 {
	readobj := tools.Require(t, "llvm-readobj")
	out, err := exec.Command(readobj.Path, "--coff-basereloc", exe).CombinedOutput()
	require.NoError(t, err, "%s", out)
	var rvas []uint64
	for _, m := range regexp.MustCompile(`Type: DIR64\s+Address: 0x([0-9A-F]+)`).FindAllSubmatch(out, -1) {
		v, err := strconv.ParseUint(string(m[1]), 16, 64)
		require.NoError(t, err)
		rvas = append(rvas, v)
	}
	return rvas
}

// TestLoadPE checks the PE loader's neutral model of lld-link images:
// sections and flags, the .refptr cells cut out as GOT-like sections,
// symbols with kinds and bindings, and the base relocations, which agree
// with llvm-readobj's.
func TestLoadPE(t *testing.T) {
	data, _, path := peLink(t, "refptr", "/debug:symtab")
	f, err := loadPE(data)
	require.NoError(t, err)
	require.Equal(t, "pe", f.format)
	var got, text int
	for _, s := range f.sections {
		switch s.name {
		case ".text":
			require.Equal(t, "AX", s.flags)
			text++
		case ".rdata":
			require.Equal(t, "A", s.flags)
			if s.got {
				got++
				require.Zero(t, s.size%8)
			}
		case ".data":
			require.Equal(t, "AW", s.flags)
		}
		require.Len(t, s.data, int(s.size), s.name)
	}
	require.Equal(t, 1, text)
	require.Equal(t, 1, got, "the three cells are one run")
	syms := map[string]fileSymbol{}
	for _, s := range f.symbols {
		require.NotContains(t, s.name, ".refptr.", "cells are not symbols")
		syms[s.name] = s
	}
	require.Equal(t, KindNone, syms["_start"].kind, "llvm-mc gives labels no function type")
	require.Equal(t, BindGlobal, syms["_start"].bind)
	require.Equal(t, f.entry, syms["_start"].value)
	require.Equal(t, KindObject, syms["counter"].kind)
	require.Equal(t, BindLocal, syms["local_k"].bind)
	require.Equal(t, "AW", syms["counter"].sec.flags)

	require.Equal(t, PointersFromBaseRelocs, f.ownSource)
	require.Empty(t, f.siteNotes)
	want := readobjBaseRelocs(t, path)
	require.Len(t, want, 3, "one per cell")
	base := f.entry - uint64(binary.LittleEndian.Uint32(data[binary.LittleEndian.Uint32(data[0x3c:])+4+20+16:]))
	var have []uint64
	for _, s := range f.ownSites {
		require.Equal(t, obj.Abs64, s.kind)
		have = append(have, s.addr-base)
	}
	require.Equal(t, want, have)
}

// TestReadPE canonicalizes lld-link images of the asm corpus, with the
// input objects and without them (pointers from base relocations): loads
// through cells are seen through, pointers in tables named.
func TestReadPE(t *testing.T) {
	tests := []struct {
		name  string
		fn    string
		insns []string
		data  string // a data symbol whose pointers are checked
		ptrs  []string
	}{
		{"refptr", "_start", []string{"lea rax, counter ; via got", "mov rax, qword ptr [rax]", "lea rcx, bump ; via got"}, "", nil},
		{"fptable", "_start", nil, "table", []string{"&times10", "&plus1", "&times10"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, objs, _ := peLink(t, tt.name, "/debug:symtab")
			for _, withObjs := range []bool{true, false} {
				var in []*obj.Object
				if withObjs {
					in = objs
				}
				im, err := Read(data, in)
				require.NoError(t, err)
				require.Equal(t, "pe", im.Format)
				require.Equal(t, "_start", im.Entry)
				fn := im.Lookup(tt.fn)
				require.NotNil(t, fn)
				texts := insnTexts(fn)
				for i, w := range tt.insns {
					require.Equal(t, w, texts[i])
				}
				if tt.data != "" {
					d := im.Lookup(tt.data)
					require.NotNil(t, d)
					var targets []string
					for _, p := range d.Pointers {
						targets = append(targets, p.Target)
					}
					require.Equal(t, tt.ptrs, targets)
				}
				if !withObjs {
					require.Equal(t, PointersFromBaseRelocs, im.PointerSource)
				}
			}
		})
	}
}

// TestLoadPEErrors checks that an image without a symbol table names the
// flag that writes one, and that every truncation and many byte mutations
// of a real image are refused with ErrMalformed or read, never a panic.
func TestLoadPEErrors(t *testing.T) {
	bare, _, _ := peLink(t, "fptable")
	_, err := Read(bare, nil)
	require.ErrorIs(t, err, ErrMalformed)
	require.ErrorContains(t, err, "/debug:symtab")

	data, objs, _ := peLink(t, "fptable", "/debug:symtab")
	check := func(b []byte) {
		_, err := Read(b, objs)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", err)
		}
	}
	for n := 0; n < len(data); n += max(1, n/64) {
		check(data[:n])
	}
	le := binary.LittleEndian
	peOff := int(le.Uint32(data[0x3c:]))
	for _, off := range []int{0x3c, peOff, peOff + 6, peOff + 12, peOff + 16, peOff + 20 + 4, peOff + 24 + 108} {
		for _, v := range []uint32{0, 1, 0x7fffffff, 0xffffffff} {
			b := bytes.Clone(data)
			if off+4 <= len(b) {
				le.PutUint32(b[off:], v)
			}
			check(b)
		}
	}
	// Every byte of the PE headers and section table, and every third
	// byte of the symbol and string tables, flipped.
	symOff := int(le.Uint32(data[peOff+4+8:]))
	nsect := int(le.Uint16(data[peOff+4+2:]))
	for _, r := range [][3]int{{peOff, peOff + 4 + 20 + 240 + 40*nsect, 1}, {symOff, len(data), 3}} {
		for i := r[0]; i < r[1] && i < len(data); i += r[2] {
			b := bytes.Clone(data)
			b[i] ^= 0xff
			check(b)
		}
	}
}

// FuzzLoadPE feeds mutated PE images to Read: it never panics, and what it
// refuses wraps ErrMalformed.
func FuzzLoadPE(f *testing.F) {
	for _, name := range []string{"fptable", "refptr"} {
		data, _, _ := peLink(f, name, "/debug:symtab")
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := Read(data, nil); err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("error wraps neither ErrMalformed nor ErrUnsupported: %v", err)
		}
	})
}
