package coff

import (
	"encoding/binary"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// TestSectionOrder sorts partial sections as lld-link orders them: PE
// sections in lld-link's order (merged sections inside their targets),
// partial sections of one name bytewise, the GOT after .rdata's plain
// sections, the import thunks last in .text.
func TestSectionOrder(t *testing.T) {
	secs := []*link.Section{
		{Name: ".pdata", Kind: obj.ROData},
		{Name: ".bss", Kind: obj.BSS},
		{Name: ".xdata", Kind: obj.ROData},
		{Name: ".idata$5", Kind: obj.ROData},
		{Name: ".idata$2", Kind: obj.ROData},
		{Name: GOTSection, Kind: obj.Data, GOT: true},
		{Name: ".rdata$zzz", Kind: obj.ROData},
		{Name: ".rdata", Kind: obj.ROData},
		{Name: ".data", Kind: obj.Data},
		{Name: thunkSection, Kind: obj.Text},
		{Name: ".text$mn", Kind: obj.Text},
		{Name: ".text$", Kind: obj.Text},
		{Name: ".text$B", Kind: obj.Text},
		{Name: ".text", Kind: obj.Text},
		{Name: ".mine", Kind: obj.Data},
		{Name: ".abc", Kind: obj.ROData},
	}
	p := Exe{}
	sort.SliceStable(secs, func(i, j int) bool { return p.SectionRank(secs[i]) < p.SectionRank(secs[j]) })
	var names, segs []string
	for _, s := range secs {
		names = append(names, s.Name)
		if k := p.SegmentKey(s); len(segs) == 0 || segs[len(segs)-1] != k {
			segs = append(segs, k)
		}
	}
	require.Equal(t, []string{".text", ".text$", ".text$B", ".text$mn", thunkSection,
		".rdata", GOTSection, ".rdata$zzz", ".idata$2", ".idata$5", ".xdata",
		".data", ".bss", ".pdata", ".abc", ".mine"}, names)
	require.Equal(t, []string{".text/rx", ".rdata/r", ".data/rw", ".pdata/r", ".abc/r", ".mine/rw"}, segs)
	require.NotEqual(t, p.SegmentKey(nil), segs[0])
}

// TestOutputSectionName keeps COFF names and names the code generator's
// ELF-style sections by kind, as WriteObject does.
func TestOutputSectionName(t *testing.T) {
	tests := []struct {
		name string
		kind obj.SectionKind
		want string
	}{
		{".text.f", obj.Text, ".text"},
		{".rodata", obj.ROData, ".rdata"},
		{".rodata.str1.1", obj.ROData, ".rdata"},
		{".data.g", obj.Data, ".data"},
		{".bss.h", obj.BSS, ".bss"},
		{"", obj.Data, ".data"},
		{".text$mn", obj.Text, ".text$mn"},
		{".rdata", obj.ROData, ".rdata"},
		{".CRT$XCU", obj.ROData, ".CRT$XCU"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Exe{}.OutputSectionName(&obj.Section{Name: tt.name, Kind: tt.kind}), tt.name)
	}
}

// TestBaseRelocs encodes lld-link's blocks: one per page, entries
// DIR64<<12|offset, padded to 4 bytes with an ABSOLUTE entry.
func TestBaseRelocs(t *testing.T) {
	b := uint64(ExeImageBase)
	got := baseRelocs([]uint64{b + 0x2000, b + 0x2ff8, b + 0x3010})
	le := binary.LittleEndian
	require.Len(t, got, 12+12)
	require.Equal(t, uint32(0x2000), le.Uint32(got[0:]))
	require.Equal(t, uint32(12), le.Uint32(got[4:]))
	require.Equal(t, uint16(0xa000), le.Uint16(got[8:]))
	require.Equal(t, uint16(0xaff8), le.Uint16(got[10:]))
	require.Equal(t, uint32(0x3000), le.Uint32(got[12:]))
	require.Equal(t, uint32(12), le.Uint32(got[16:]))
	require.Equal(t, uint16(0xa010), le.Uint16(got[20:]))
	require.Equal(t, uint16(0), le.Uint16(got[22:]), "padding")
	require.Empty(t, baseRelocs(nil))
}

// TestHeaderSize: lld-link's SizeOfHeaders is 0x200 up to 3 sections and
// 0x400 from 4 to 16.
func TestHeaderSize(t *testing.T) {
	for n, want := range map[int]uint64{1: 0x200, 3: 0x200, 4: 0x400, 16: 0x400, 17: 0x600} {
		require.Equal(t, want, headerSize(n), "%d sections", n)
	}
}

// TestLinkErrors: relocations the format cannot hold are named as
// IMAGE_REL_AMD64_* with their place; an ADDR32 to an address above 4 GiB
// is out of range (lld-link truncates it silently).
func TestLinkErrors(t *testing.T) {
	mk := func(kind obj.RelocKind) []*obj.Object {
		return []*obj.Object{{Name: "a.obj",
			Sections: []*obj.Section{{Name: ".text", Kind: obj.Text, Align: 16, Data: make([]byte, 16), Size: 16,
				Relocs: []obj.Reloc{{Offset: 4, Kind: kind, Sym: 0}}}},
			Symbols: []*obj.Symbol{{Name: "_start", Section: 0, Bind: obj.Global, Kind: obj.SymFunc}}}}
	}
	_, _, err := Link(mk(obj.Abs32S), link.Options{})
	require.ErrorContains(t, err, "a.obj:(.text+0x4): relocation abs32s (R_X86_64_32S, no IMAGE_REL_AMD64 equivalent) is not supported in a coff executable")
	_, _, err = Link(mk(obj.Abs32), link.Options{})
	require.ErrorContains(t, err, "relocation IMAGE_REL_AMD64_ADDR32 out of range")
	_, _, err = Link(mk(obj.ImageRel32), link.Options{})
	require.NoError(t, err)
}
