package coff

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	lcexec "github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Two C files that share COMDATs: a selectany global and a string
// literal, which clang puts in a COMDAT ANY section of each object.
const comdatA = `__declspec(selectany) long shared = 5;
const char *name_a(void) { return "hello"; }
long g(void);
long long _start(void) { const char *p = name_a(); return shared * 100 + p[1] + g(); }
`

const comdatB = `__declspec(selectany) long shared = 5;
const char *name_b(void) { return "hello"; }
long g(void) { return name_b()[4] + shared; }
`

// TestLinkComdats links clang objects whose COMDATs overlap with
// LinkFiles, which keeps the first copy as lld-link does: the image is
// byte-identical to lld-link's and computes 5*100 + 'e' + 'o' + 5.
func TestLinkComdats(t *testing.T) {
	clang := tools.Require(t, "clang")
	lld := tools.Require(t, "lld-link")
	tools.Require(t, "libunicorn")
	dir := t.TempDir()
	var objs []string
	for name, src := range map[string]string{"a": comdatA, "b": comdatB} {
		c := writeFile(t, dir, name+".c", []byte(src))
		o := filepath.Join(dir, name+".obj")
		run(t, dir, clang.Path, "--target=x86_64-pc-windows-msvc", "-O1", "-c", c, "-o", o)
		objs = append(objs, o)
	}
	if filepath.Base(objs[0]) != "a.obj" {
		objs[0], objs[1] = objs[1], objs[0]
	}
	// The model alone sees two definitions of shared.
	var plain []*obj.Object
	for _, p := range objs {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		o, err := ReadObject(p, data)
		require.NoError(t, err)
		plain = append(plain, o)
	}
	_, _, err := Link(plain, link.Options{})
	require.ErrorContains(t, err, "duplicate symbol: shared")

	image, _, err := LinkFiles(objs, link.Options{})
	require.NoError(t, err)
	lldExe := filepath.Join(dir, "lld.exe")
	run(t, dir, lld.Path, append([]string{"/entry:_start", "/subsystem:console", "/nodefaultlib", "/debug:symtab", "/timestamp:0", "/out:" + lldExe}, objs...)...)
	want, err := os.ReadFile(lldExe)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, image), "the image differs from lld-link's")
	refExe := writeFile(t, dir, "ref.exe", image)
	runner := lcexec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	res, err := runner.Run(context.Background(), refExe, lcexec.Options{Mode: lcexec.Unicorn})
	require.NoError(t, err)
	require.Equal(t, uint64(5*100+'e'+'o'+5), res.Value)
}

// TestResolveComdatsSelections checks the selection rules on hand-made
// files: ANY keeps the first, LARGEST the largest, NODUPLICATES refuses a
// second copy, and an associated section goes with its parent.
func TestResolveComdatsSelections(t *testing.T) {
	mk := func(name string, sel uint8, size uint64) *File {
		o := &obj.Object{Name: name,
			Sections: []*obj.Section{
				{Name: ".rdata", Kind: obj.ROData, Align: 1, Data: make([]byte, size), Size: size},
				{Name: ".xdata", Kind: obj.ROData, Align: 1, Data: []byte{1}, Size: 1},
			},
			Symbols: []*obj.Symbol{{Name: "k", Section: 0, Bind: obj.Global, Kind: obj.SymData, Size: size}}}
		return &File{Object: o, SectionNumber: []int{1, 2}, Comdats: []Comdat{
			{Section: 0, Selection: sel, Leader: 0, Associate: -1},
			{Section: 1, Selection: ComdatAssociative, Leader: -1, Associate: 0},
		}}
	}
	tests := []struct {
		sel     uint8
		sizes   [2]uint64
		keep    int // which file keeps its sections; -1: an error
		errText string
	}{
		{ComdatAny, [2]uint64{4, 8}, 0, ""},
		{ComdatLargest, [2]uint64{4, 8}, 1, ""},
		{ComdatLargest, [2]uint64{8, 4}, 0, ""},
		{ComdatSameSize, [2]uint64{4, 4}, 0, ""},
		{ComdatSameSize, [2]uint64{4, 8}, -1, "duplicate symbol: k"},
		{ComdatNoDuplicates, [2]uint64{4, 4}, -1, "duplicate symbol: k"},
	}
	for _, tt := range tests {
		objs, err := ResolveComdats([]*File{mk("a.obj", tt.sel, tt.sizes[0]), mk("b.obj", tt.sel, tt.sizes[1])})
		if tt.keep < 0 {
			require.ErrorContains(t, err, tt.errText)
			continue
		}
		require.NoError(t, err)
		for i, o := range objs {
			if i == tt.keep {
				require.Len(t, o.Sections, 2)
				require.True(t, o.Symbols[0].Defined())
			} else {
				require.Empty(t, o.Sections, "the copy and its associated section are dropped")
				require.False(t, o.Symbols[0].Defined(), "k refers to the kept copy")
			}
		}
	}
}
