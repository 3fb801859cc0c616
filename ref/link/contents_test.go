package link

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// serialContents is contents done in order, as it was before it ran in
// parallel: every code section filled, then every chunk copied.
func serialContents(l *Layout, code byte) []byte {
	img := make([]byte, l.FileSize)
	for _, s := range l.Sections {
		if s.Kind == obj.BSS || s.GOT || s.Size == 0 {
			continue
		}
		if s.Kind == obj.Text {
			for i := s.Offset; i < s.Offset+s.Size; i++ {
				img[i] = code
			}
		}
		for _, c := range s.Chunks {
			d := c.Data
			if c.Obj >= 0 {
				d = l.Objects[c.Obj].Sections[c.Sec].Data
			}
			copy(img[s.Offset+c.Off:], d)
		}
	}
	return img
}

// TestContents: the parallel copy gives the bytes of the serial one, for
// code with alignment gaps over several runs of chunks, data, an empty
// code section, and chunks whose data is not their size (done again in
// order).
func TestContents(t *testing.T) {
	layout := func(short, overlap bool) *Layout {
		o := &obj.Object{Name: "a.o"}
		text := &Section{Name: ".text", Kind: obj.Text}
		data := &Section{Name: ".data", Kind: obj.Data}
		empty := &Section{Name: ".text.empty", Kind: obj.Text}
		bss := &Section{Name: ".bss", Kind: obj.BSS, Size: 64}
		for i := range 10000 {
			n := 1 + i%13
			b := make([]byte, n)
			for j := range b {
				b[j] = byte(i + j)
			}
			o.Sections = append(o.Sections, &obj.Section{Name: ".text.f", Kind: obj.Text, Data: b, Size: uint64(n), Align: 1 << (i % 5)})
			sec := text
			if i%3 == 0 {
				sec = data
			}
			off := alignUp(sec.Size, 1<<(i%5))
			sec.Chunks = append(sec.Chunks, Chunk{Obj: 0, Sec: int32(i), Off: off, Size: uint64(n)})
			sec.Size = off + uint64(n)
		}
		text.Size += 7 // a tail gap
		if short {
			text.Chunks[5000].Data, text.Chunks[5000].Obj = []byte{9}, -1 // shorter than its size
		}
		if overlap {
			// on the previous one, which another run copies
			text.Chunks[perRun].Off = text.Chunks[perRun-1].Off
		}
		empty.Size = 5
		l := &Layout{Objects: []*obj.Object{o}, Sections: []*Section{text, data, empty, bss}}
		var off uint64
		for _, s := range l.Sections[:3] {
			s.Offset = off
			off += s.Size + 3
		}
		bss.Offset = off
		l.FileSize = off
		return l
	}
	for _, tc := range []struct {
		name           string
		short, overlap bool
	}{{"gaps", false, false}, {"short chunk", true, false}, {"overlapping chunks", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			l := layout(tc.short, tc.overlap)
			require.Equal(t, serialContents(l, 0xcc), l.contents(0xcc))
		})
	}
}
