package link_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/bench"
	"github.com/linkcheck/linkcheck/ref/arch"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// flat is a minimal platform: every input section keeps its kind's name,
// 64 bytes of headers, ld.lld's layout rules, the image is the file.
type flat struct{ link.ELFRules }

var flatPlatform = flat{link.ELFRules{Page: 0x1000}}

func (flat) Format() obj.Format                               { return obj.ELF }
func (flat) ImageBase() uint64                                { return 0x10000 }
func (flat) PageSize() uint64                                 { return 0x1000 }
func (flat) GOTSectionName() string                           { return "got" }
func (flat) HeaderSize(*link.Layout) uint64                   { return 64 }
func (flat) RelocName(k obj.RelocKind) string                 { return k.String() }
func (flat) OutputSectionName(s *obj.Section) string          { return s.Kind.String() }
func (flat) Write(_ *link.Layout, img []byte) ([]byte, error) { return img, nil }
func (flat) Supports(obj.RelocKind) bool                      { return true }
func (flat) Arch() arch.Arch                                  { return arch.X86_64{} }

// TestLayoutInvariants links the synthetic workload and checks what the
// incremental linker relies on: chunks inside their sections and not
// overlapping, sections inside their segments, offset ≡ address mod page,
// every call resolved to its callee, every pointer to its function.
func TestLayoutInvariants(t *testing.T) {
	objs, err := bench.SyntheticObjects(300, 3)
	require.NoError(t, err)
	img, l, err := link.Link(objs, flatPlatform, link.Options{})
	require.NoError(t, err)
	require.Equal(t, l.Symbols[l.Lookup("_start")].Addr, l.Entry)
	for _, s := range l.Sections {
		var end uint64
		for _, c := range s.Chunks {
			require.GreaterOrEqual(t, c.Off, end)
			require.Zero(t, c.Off%c.Align)
			end = c.Off + c.Size
		}
		require.LessOrEqual(t, end, s.Size)
		seg := l.Segments[s.Segment]
		require.GreaterOrEqual(t, s.Addr, seg.Addr)
		require.LessOrEqual(t, s.Addr+s.Size, seg.Addr+seg.MemSize)
		require.Equal(t, s.Addr%0x1000, s.Offset%0x1000, s.Name)
	}
	le := func(b []byte) uint64 {
		var v uint64
		for i := len(b) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		return v
	}
	for f := 0; f < 300; f++ {
		fn := l.Symbols[l.Lookup("f"+itoa(f))]
		next := l.Symbols[l.Lookup("f"+itoa((f+1)%300))]
		off := fn.Addr - l.Sections[l.Placements[fn.Obj][fn.Sec].Out].Addr + l.Sections[l.Placements[fn.Obj][fn.Sec].Out].Offset
		rel := int32(le(img[off+1 : off+5]))
		require.Equal(t, next.Addr, uint64(int64(fn.Addr+5)+int64(rel)), "call in f%d", f)
		p := l.Symbols[l.Lookup("p"+itoa(f))]
		pout := l.Sections[l.Placements[p.Obj][p.Sec].Out]
		require.Equal(t, fn.Addr, le(img[p.Addr-pout.Addr+pout.Offset:][:8]), "pointer p%d", f)
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestMergeStrings(t *testing.T) {
	str := func(name string, data string) *obj.Object {
		return &obj.Object{Name: name,
			Sections: []*obj.Section{{Name: ".rodata.str1.1", Kind: obj.ROData, Align: 1, Data: []byte(data), Size: uint64(len(data)), Merge: true, Strings: true, EntSize: 1}},
			Symbols:  []*obj.Symbol{{Name: name + ".s", Section: 0, Value: uint64(max(0, len(data)-4)), Bind: obj.Global}}}
	}
	start := &obj.Object{Name: "s.o", Sections: []*obj.Section{{Name: ".text", Kind: obj.Text, Align: 1, Data: []byte{0xc3}, Size: 1}},
		Symbols: []*obj.Symbol{{Name: "_start", Section: 0, Bind: obj.Global}}}
	_, l, err := link.Link([]*obj.Object{start, str("a", "hey\x00abc\x00"), str("b", "abc\x00")}, flatPlatform, link.Options{})
	require.NoError(t, err)
	require.Equal(t, l.Symbols[l.Lookup("a.s")].Addr, l.Symbols[l.Lookup("b.s")].Addr)
	ro := l.Sections[l.Placements[1][0].Out]
	require.Equal(t, uint64(8), ro.Size)
	_, _, err = link.Link([]*obj.Object{start, str("c", "abc")}, flatPlatform, link.Options{})
	require.EqualError(t, err, "c:(.rodata.str1.1): string is not null terminated")
}

// TestLayoutBounds: sizes that overflow the address space and alignments
// that would pad the file to gigabytes are refused before anything is
// allocated (issue 17, defect 4).
func TestLayoutBounds(t *testing.T) {
	start := func(extra ...*obj.Section) *obj.Object {
		o := &obj.Object{Name: "a.o", Sections: append([]*obj.Section{{Name: ".text", Kind: obj.Text, Align: 1, Data: []byte{0xc3}, Size: 1}}, extra...),
			Symbols: []*obj.Symbol{{Name: "_start", Section: 0, Bind: obj.Global}}}
		return o
	}
	_, _, err := link.Link([]*obj.Object{start(&obj.Section{Name: ".bss", Kind: obj.BSS, Align: 8, Size: 1<<64 - 1})}, flatPlatform, link.Options{})
	require.ErrorContains(t, err, "overflow the address space")
	var big []*obj.Section
	for i := 0; i < 3; i++ {
		big = append(big, &obj.Section{Name: fmt.Sprintf(".data.%d", i), Kind: obj.Data, Align: 1 << 32, Data: []byte{1}, Size: 1})
	}
	_, _, err = link.Link([]*obj.Object{start(big...)}, flatPlatform, link.Options{})
	require.ErrorContains(t, err, "more than the 4294967296 this linker writes")
}
