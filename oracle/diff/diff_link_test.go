package diff_test

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/canon/canontest"
	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/ref/obj"
)

var srcs = []string{"../canon/testdata/a.s", "../canon/testdata/b.s"}

// fixture is one set of objects and a correct link of them.
type fixture struct {
	dir   string
	paths []string
	objs  []*obj.Object
	exe   []byte
	cmd   string
}

func newFixture(t *testing.T, extra ...string) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	f.paths, f.objs = canontest.Assemble(t, f.dir, srcs...)
	f.exe, f.cmd = canontest.Link(t, f.paths, filepath.Join(f.dir, "ab.out"), extra...)
	return f
}

func (f *fixture) image(t *testing.T, exe []byte) *canon.Image {
	t.Helper()
	im, err := canon.ReadELF(exe, f.objs)
	require.NoError(t, err)
	return im
}

func rel32(from, to uint64) []byte {
	return binary.LittleEndian.AppendUint32(nil, uint32(int32(int64(to)-int64(from))))
}

func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// TestLinkOrderEqual: two correct links of the same objects in different
// orders move every address, and still compare equal with high coverage.
func TestLinkOrderEqual(t *testing.T) {
	f := newFixture(t)
	ba, _ := canontest.Link(t, []string{f.paths[1], f.paths[0]}, filepath.Join(f.dir, "ba.out"))
	require.NotEqual(t, canontest.Addr(t, f.exe, "main"), canontest.Addr(t, ba, "main"), "the links must differ in layout")
	a, b := f.image(t, f.exe), f.image(t, ba)
	rep := diff.Compare(a, b, diff.Options{NameA: "ab", NameB: "ba", Reproduce: f.cmd})
	require.True(t, rep.Equal(), rep.Text())
	require.Greater(t, rep.Coverage.Ratio(), 0.95, rep.Text())
	require.Greater(t, rep.Coverage.Insns, 40)
	require.Equal(t, 7, rep.Coverage.Pointers) // ptrs: 3, table: 1, the jump table b.o:(.rodata.jt): 3
	require.Equal(t, a.Text(), b.Text())
	require.Contains(t, rep.Text(), "reproduce: "+f.cmd)
}

// TestRelaxedEqualsGOT: ld.lld relaxes every GOT load to lea; with
// --no-relax the loads go through .got. Both canonicalize alike.
func TestRelaxedEqualsGOT(t *testing.T) {
	f := newFixture(t)
	got, _ := canontest.Link(t, f.paths, filepath.Join(f.dir, "got.out"), "--no-relax")
	a, b := f.image(t, f.exe), f.image(t, got)
	rep := diff.Compare(a, b, diff.Options{})
	require.True(t, rep.Equal(), rep.Text())
	main := b.Lookup("main")
	require.Equal(t, canon.ViaGOT, main.Insns[4].Via)
	require.Equal(t, "", a.Lookup("main").Insns[4].Via)
}

// TestBroken patches correct links on purpose and checks that the diff
// names the right key, location and both sides.
func TestBroken(t *testing.T) {
	f := newFixture(t)
	fgot := newFixture(t, "--no-relax")
	tests := []struct {
		name  string
		fx    *fixture
		patch func(t *testing.T, exe []byte) []byte
		want  diff.Difference
	}{
		{"call retargeted", f, func(t *testing.T, exe []byte) []byte {
			// main insn 3 is `call dbl` at main+9; point it at inc.
			at := canontest.Addr(t, exe, "main") + 9
			return canontest.Patch(t, exe, at+1, rel32(at+5, canontest.Addr(t, exe, "inc")))
		}, diff.Difference{Key: diff.KeyTextOperand, Symbol: "main", Offset: 9, Index: 3, A: "call dbl", B: "call inc"}},
		{"data pointer off by 8", f, func(t *testing.T, exe []byte) []byte {
			// ptrs+8 holds &arr+8.
			return canontest.Patch(t, exe, canontest.Addr(t, exe, "ptrs")+8, u64(canontest.Addr(t, exe, "arr")+16))
		}, diff.Difference{Key: diff.KeyDataPointer, Symbol: "ptrs", Offset: 8, Index: -1, A: "abs64 &arr+0x8", B: "abs64 &arr+0x10"}},
		{"pointer to another symbol", f, func(t *testing.T, exe []byte) []byte {
			return canontest.Patch(t, exe, canontest.Addr(t, exe, "table"), u64(canontest.Addr(t, exe, "dbl")))
		}, diff.Difference{Key: diff.KeyDataPointer, Symbol: "table", Offset: 0, Index: -1, A: "abs64 &inc", B: "abs64 &dbl"}},
		{"GOT slot to wrong symbol", fgot, func(t *testing.T, exe []byte) []byte {
			// main insn 4 is `mov rcx, [rip+GOT(counter)]` at main+0xe.
			at := canontest.Addr(t, exe, "main") + 0xe
			b := exe[canontest.Offset(t, exe, at):]
			slot := at + 7 + uint64(int64(int32(binary.LittleEndian.Uint32(b[3:]))))
			return canontest.Patch(t, exe, slot, u64(canontest.Addr(t, exe, "arr")))
		}, diff.Difference{Key: diff.KeyTextOperand, Symbol: "main", Offset: 0xe, Index: 4, A: "lea rcx, counter ; via got", B: "lea rcx, arr ; via got"}},
		{"missing symbol", f, func(t *testing.T, exe []byte) []byte {
			return canontest.RenameSymbol(t, exe, "zeros", "zero")
		}, diff.Difference{Key: diff.KeySymbolMissing, Symbol: "zeros", Index: -1, A: "object global size 0x40 in AW", B: "(none)"}},
		{"renamed symbol is extra", f, func(t *testing.T, exe []byte) []byte {
			return canontest.RenameSymbol(t, exe, "zeros", "zero")
		}, diff.Difference{Key: diff.KeySymbolExtra, Symbol: "zero", Index: -1, A: "(none)", B: "object global size 0x40 in AW"}},
		{"error name", f, func(t *testing.T, exe []byte) []byte {
			return canontest.Patch(t, exe, canontest.Addr(t, exe, "_lc_errtab")+12, []byte("Xu"))
		}, diff.Difference{Key: diff.KeyErrtabName, Symbol: "_lc_errtab", Index: -1, A: `error 1 "OutOfMemory"`, B: `error 1 "XutOfMemory"`}},
		{"error table malformed", f, func(t *testing.T, exe []byte) []byte {
			return canontest.Patch(t, exe, canontest.Addr(t, exe, "_lc_errtab")+4, []byte{30})
		}, diff.Difference{Key: diff.KeyErrtabBad, Symbol: "_lc_errtab", Index: -1, A: "well-formed", B: "name of error 1 is not NUL-terminated at 29"}},
		{"error count", f, func(t *testing.T, exe []byte) []byte {
			// One error whose name fills the 37-byte table.
			tab := []byte{8, 0, 0, 0, 37, 0, 0, 0}
			tab = append(tab, "OutOfMemoryOutOfMemoryOutOfM\x00"...)
			return canontest.Patch(t, exe, canontest.Addr(t, exe, "_lc_errtab"), tab)
		}, diff.Difference{Key: diff.KeyErrtabCount, Symbol: "_lc_errtab", Index: -1, A: "2 errors", B: "1 errors"}},
		{"error table trailing bytes", f, func(t *testing.T, exe []byte) []byte {
			// One error: off[0]=8, off[1]=20 ("OutOfMemory\0" moved up), 5 zero bytes left.
			tab := []byte{8, 0, 0, 0, 20, 0, 0, 0}
			tab = append(tab, "OutOfMemory\x00"...)
			return canontest.Patch(t, exe, canontest.Addr(t, exe, "_lc_errtab"), tab)
		}, diff.Difference{Key: diff.KeyErrtabBad, Symbol: "_lc_errtab", Index: -1, A: "well-formed", B: "17 bytes after the last name"}},
		{"code bytes changed", f, func(t *testing.T, exe []byte) []byte {
			// dbl: lea rax,[rdi+rdi] -> lea rax,[rdi+rsi]
			return canontest.Patch(t, exe, canontest.Addr(t, exe, "dbl"), []byte{0x48, 0x8d, 0x04, 0x37})
		}, diff.Difference{Key: diff.KeyTextOperand, Symbol: "dbl", Index: 0, A: "lea rax, [rdi+rdi*1]", B: "lea rax, [rdi+rsi*1]"}},
		{"operation changed", f, func(t *testing.T, exe []byte) []byte {
			return canontest.Patch(t, exe, canontest.Addr(t, exe, "dbl")+4, []byte{0xcc})
		}, diff.Difference{Key: diff.KeyTextInsn, Symbol: "dbl", Offset: 4, Index: 1, A: "ret", B: "int 0x3"}},
		{"data bytes", f, func(t *testing.T, exe []byte) []byte {
			return canontest.Patch(t, exe, canontest.Addr(t, exe, "arr")+8, []byte{9})
		}, diff.Difference{Key: diff.KeyDataBytes, Symbol: "arr", Offset: 8, Index: -1, A: "02", B: "09"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good := tt.fx.image(t, tt.fx.exe)
			bad := tt.fx.image(t, tt.patch(t, tt.fx.exe))
			rep := diff.Compare(good, bad, diff.Options{NameA: "good", NameB: "broken", Reproduce: tt.fx.cmd})
			require.False(t, rep.Equal())
			require.Contains(t, rep.Differences, tt.want, rep.Text())
			// The self-comparison of each side stays equal.
			require.True(t, diff.Compare(bad, bad, diff.Options{}).Equal())
		})
	}
}

// TestTrampolineSeenThrough: a call that reaches its target through a
// `jmp rel32` left in a retired slot (here: the int3 fill after _start)
// compares equal to the direct call; a trampoline to the wrong function
// does not.
func TestTrampolineSeenThrough(t *testing.T) {
	f := newFixture(t)
	exe := f.exe
	tramp := canontest.Addr(t, exe, "_start") + 0x23 // first fill byte after _start
	call := canontest.Addr(t, exe, "main") + 9
	patched := canontest.Patch(t, exe, tramp, append([]byte{0xe9}, rel32(tramp+5, canontest.Addr(t, exe, "dbl"))...))
	patched = canontest.Patch(t, patched, call+1, rel32(call+5, tramp))
	good, viaTramp := f.image(t, exe), f.image(t, patched)
	require.Equal(t, canon.ViaTrampoline, viaTramp.Lookup("main").Insns[3].Via)
	rep := diff.Compare(good, viaTramp, diff.Options{})
	require.True(t, rep.Equal(), rep.Text())

	wrong := canontest.Patch(t, patched, tramp+1, rel32(tramp+5, canontest.Addr(t, exe, "inc")))
	rep = diff.Compare(good, f.image(t, wrong), diff.Options{})
	require.Contains(t, rep.Differences, diff.Difference{Key: diff.KeyTextOperand, Symbol: "main", Offset: 9, Index: 3,
		A: "call dbl", B: "call inc ; via trampoline"}, rep.Text())
}
