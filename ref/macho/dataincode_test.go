package macho

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// asmDataInCode has data regions (LC_DATA_IN_CODE entries) in two atoms
// of __text, a jump table after _f's first instruction and a byte table
// inside _g, and one in __DATA that ld64.lld drops.
const asmDataInCode = `.subsections_via_symbols
	.text
	.globl __start
__start:
	call _f
	call _g
	ret
	.p2align 2
_f:
	nop
	.data_region jt32
	.long 1
	.long 2
	.end_data_region
	ret
_g:
	nop
	nop
	.data_region jt8
	.byte 3
	.byte 4
	.end_data_region
	ret
	.data
_d:
	.data_region
	.long 5
	.end_data_region
`

// diceCmd returns the offset of the LC_DATA_IN_CODE command in f.
func diceCmd(t *testing.T, f []byte) int {
	t.Helper()
	le := binary.LittleEndian
	n, off := int(le.Uint32(f[16:])), headerSize
	for i := 0; i < n; i++ {
		if le.Uint32(f[off:]) == lcDataInCode {
			return off
		}
		off += int(le.Uint32(f[off+4:]))
	}
	t.Fatal("no LC_DATA_IN_CODE")
	return 0
}

// TestReadDataInCode checks that the reader puts each data-in-code entry
// in the atom it falls in, at its offset there, drops the one in __DATA,
// and refuses a misaligned or out-of-range table, naming the file and the
// command's offset.
func TestReadDataInCode(t *testing.T) {
	dir := t.TempDir()
	good := assemble(t, dir, "dice.o", asmDataInCode)
	o, err := ReadObject("dice.o", good)
	require.NoError(t, err)
	var got []string
	ranges := map[string][]obj.DataRange{}
	for _, s := range o.Symbols {
		if s.Section >= 0 && s.Kind == obj.SymFunc {
			got = append(got, s.Name)
			ranges[s.Name] = o.Sections[s.Section].DataInCode
		}
	}
	require.ElementsMatch(t, []string{"_start", "f", "g"}, got)
	require.Empty(t, ranges["_start"])
	require.Equal(t, []obj.DataRange{{Offset: 1, Size: 8, Kind: 4}}, ranges["f"]) // DICE_KIND_JUMP_TABLE32
	require.Equal(t, []obj.DataRange{{Offset: 2, Size: 2, Kind: 2}}, ranges["g"]) // DICE_KIND_JUMP_TABLE8
	for _, s := range o.Sections {
		if s.Kind != obj.Text {
			require.Empty(t, s.DataInCode, s.Name)
		}
	}

	le := binary.LittleEndian
	c := diceCmd(t, good)
	mutate := func(fn func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		fn(b)
		return b
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"misaligned", mutate(func(b []byte) { le.PutUint32(b[c+8:], le.Uint32(b[c+8:])+2) }), "table offset"},
		{"size", mutate(func(b []byte) { le.PutUint32(b[c+12:], 12) }), "table size 0xc is not a multiple of 8"},
		{"range", mutate(func(b []byte) { le.PutUint32(b[c+8:], 1<<30) }), "table: range [0x40000000"},
		{"table size", mutate(func(b []byte) { le.PutUint32(b[c+12:], 1<<24) }), "past the end of the file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadObject("dice.o", tt.data)
			require.ErrorContains(t, err, "dice.o: ")
			require.ErrorContains(t, err, "LC_DATA_IN_CODE at offset ")
			require.ErrorContains(t, err, tt.want)
			require.True(t, errors.Is(err, ErrMalformed), "%v", err)
		})
	}
}

// TestLinkDataInCodeLikeLLD links asmDataInCode with ld64.lld and the
// reference linker: the same file but for LC_UUID, LC_DATA_IN_CODE's two
// entries included; and that a link without them is caught.
func TestLinkDataInCodeLikeLLD(t *testing.T) {
	ld := tools.Require(t, "ld64.lld")
	dir := t.TempDir()
	p := writeFile(t, dir, "dice.o", assemble(t, dir, "dice.o", asmDataInCode))
	out := filepath.Join(dir, "dice.out")
	run(t, dir, ld.Path, "-arch", "x86_64", "-platform_version", "macos", "11.0", "11.0", "-e", "__start", "-o", out, p)
	lld, err := os.ReadFile(out)
	require.NoError(t, err)
	ref, _, err := LinkFiles([]string{p}, link.Options{})
	require.NoError(t, err)
	c := diceCmd(t, ref)
	require.Equal(t, uint32(2*diceEntrySize), binary.LittleEndian.Uint32(ref[c+12:]), "two entries")
	requireLLDBytes(t, lld, ref)

	// The comparison sees a table the linker does not fill in: the same
	// objects with their data-in-code ranges dropped link to other bytes.
	o, err := ReadObject(p, mustRead(t, p))
	require.NoError(t, err)
	for _, s := range o.Sections {
		s.DataInCode = nil
	}
	bare, _, err := Link([]*obj.Object{o}, link.Options{})
	require.NoError(t, err)
	a, b := bytes.Clone(lld), bytes.Clone(bare)
	clear(a[uuidAt(t, a):][:16])
	clear(b[uuidAt(t, b):][:16])
	require.NotEqual(t, a, b)
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}
