package cfi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// cie is llvm-mc's CIE for x86_64: version 1, "zR", code 1, data -8,
// return register 16, FDE encoding pcrel|sdata4, DW_CFA_def_cfa rsp+8,
// DW_CFA_offset rip -8.
var cie = []byte{0x14, 0, 0, 0, 0, 0, 0, 0, 1, 'z', 'R', 0, 1, 0x78, 0x10, 1, 0x1b, 0x0c, 7, 8, 0x90, 1, 0, 0}

func TestSplit(t *testing.T) {
	fde := []byte{0x10, 0, 0, 0, 0x1c, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}
	d := append(append(append([]byte{}, cie...), fde...), 0, 0, 0, 0, 0xff)
	recs, err := Split(d)
	require.NoError(t, err)
	require.Equal(t, []Record{{Offset: 0, Size: 24, CIE: true}, {Offset: 24, Size: 20, ID: 0x1c}}, recs, "the zero terminator ends the section")
	for _, tc := range []struct {
		d    []byte
		want string
	}{
		{[]byte{1, 2}, "CIE/FDE too small at offset 0x0"},
		{[]byte{0x20, 0, 0, 0, 0, 0, 0, 0}, "ends past the end of the section"},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, "too large"},
	} {
		_, err := Split(tc.d)
		require.ErrorContains(t, err, tc.want)
	}
}

func TestParseCIE(t *testing.T) {
	c, err := ParseCIE(cie)
	require.NoError(t, err)
	require.Equal(t, uint8(1), c.Version)
	require.Equal(t, "zR", c.Augmentation)
	require.Equal(t, int64(-8), c.DataAlign)
	require.Equal(t, uint64(16), c.ReturnReg)
	require.Equal(t, uint8(0x1b), c.FDEEncoding)
	require.Equal(t, []byte{0x0c, 7, 8, 0x90, 1, 0, 0}, c.Instructions)
	enc, err := FDEEncoding(cie)
	require.NoError(t, err)
	require.Equal(t, uint8(0x1b), enc)
	f, err := ParseFDE([]byte{0x14, 0, 0, 0, 0x1c, 0, 0, 0, 0xf0, 0xff, 0xff, 0xff, 9, 0, 0, 0, 0, 0x41, 0x0e, 0x10}, c)
	require.NoError(t, err)
	require.Equal(t, uint64(9), f.Range)
	require.Equal(t, []byte{0x41, 0x0e, 0x10}, f.Instructions)
}

// TestFDEEncodingErrors: ld.lld 16's words for the CIEs it cannot read
// for .eh_frame_hdr.
func TestFDEEncodingErrors(t *testing.T) {
	for _, tc := range []struct {
		rec  []byte
		want string
	}{
		{cie[:8], "CIE is too small"},
		{append(append([]byte{}, cie[:8]...), 2), "FDE version 1 or 3 expected, but got 2"},
		{append(append([]byte{}, cie[:8]...), 1, 'z'), "failed to read string"},
		{append(append([]byte{}, cie[:8]...), 1, 'x', 0, 1, 0x78, 0x10), "unknown .eh_frame augmentation string: x"},
		{append(append([]byte{}, cie[:8]...), 1, 'z', 'P', 0, 1, 0x78, 0x10, 1, 0x51), "DW_EH_PE_aligned encoding is not supported"},
		{append(append([]byte{}, cie[:8]...), 1, 'z', 'P', 0, 1, 0x78, 0x10, 1, 0x01), "unknown FDE encoding"},
	} {
		_, err := FDEEncoding(tc.rec)
		require.ErrorContains(t, err, tc.want)
	}
	enc, err := FDEEncoding(append(append([]byte{}, cie[:8]...), 1, 0, 1, 0x78, 0x10))
	require.NoError(t, err)
	require.Equal(t, uint8(PEAbsPtr), enc, "no 'R': absolute")
}
