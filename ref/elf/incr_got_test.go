package elf

import (
	"bytes"
	"debug/elf"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// TestGOTOnlyUpdateResizesGOT: an update whose only effect on the layout is
// a new GOT slot (an existing global starts being loaded, the function
// keeps its size, no symbol changes) must still rewrite the section
// headers, or .got's size leaves the new slot outside the section (found by
// FuzzGOT: "refers to 0x31000070, which is not in .got").
func TestGOTOnlyUpdateResizesGOT(t *testing.T) {
	const with = "global g = 5\nglobal h = 6\nfunc main() { return load g + load h }\n"
	_, p2 := compile(t, with, incr.Trampoline)
	size := p2.Atom("main").Size
	// The first version loads only g, padded to main's size in the second.
	var p1 *obj.Program
	for pad := 0; pad < 64 && p1 == nil; pad++ {
		src := fmt.Sprintf("global g = 5\nglobal h = 6\nfunc main() {\n  pad %d\n  return load g\n}\n", pad)
		_, p := compile(t, src, incr.Trampoline)
		if p.Atom("main").Size == size {
			p1 = p
		}
	}
	require.NotNil(t, p1, "no padding gives main the same size")
	o, err := incr.NewMemOutput(IncrImage{}, p1, "", incr.Options{})
	require.NoError(t, err)
	pt, err := o.Update(p2, "")
	require.NoError(t, err)
	require.False(t, pt.Symbols, "the test needs an update with no symbol change")
	require.Equal(t, 2, o.State.GOT.Len())
	f, err := elf.NewFile(bytes.NewReader(o.Bytes()))
	require.NoError(t, err)
	got := f.Section(".got")
	require.NotNil(t, got)
	for i := 0; i < o.State.GOT.Len(); i++ {
		a := o.State.GOTAddr(i)
		require.LessOrEqual(t, a+8, got.Addr+got.Size, "GOT slot %d at %#x is outside .got [%#x, %#x)", i, a, got.Addr, got.Addr+got.Size)
	}
}
