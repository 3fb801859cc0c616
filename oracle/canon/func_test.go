package canon

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/arch/x86/x86asm"
)

// TestFillDecode: a 0xcc or 0x90 byte decodes as the same one-byte
// instruction (int 3, nop) whatever follows, so runs of them are decoded
// once (rawDecode).
func TestFillDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		b    byte
		want x86asm.Inst
	}{{0xcc, int3Inst}, {0x90, nopInst}} {
		require.Equal(t, 1, c.want.Len)
		for next := 0; next < 256; next++ {
			for n := 0; n < 4; n++ {
				src := []byte{c.b, byte(next)}
				for k := 0; k < n*4; k++ {
					src = append(src, byte(rng.UintN(256)))
				}
				got, err := x86asm.Decode(src, 64)
				require.NoError(t, err)
				require.Equal(t, c.want, got, "% x", src)
			}
		}
	}
	require.Equal(t, x86asm.INT, int3Inst.Op)
	require.Equal(t, x86asm.NOP, nopInst.Op)
}

// TestDecodePrefixProperty checks what reusing another decoding relies on
// (rawDecode's hint, DecodeCache): when x86asm recognizes an instruction
// (Op set) of length L, decoding any bytes that start with the same L
// bytes gives the same instruction — the bytes after it, and how many
// there are, do not matter. Random windows, and windows built from real
// instruction prefixes (REX, VEX, EVEX, operand-size, segment, lock/rep).
func TestDecodePrefixProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	lead := [][]byte{nil, {0x48}, {0x66}, {0xf0}, {0xf3}, {0xf2}, {0x64}, {0xc5}, {0xc4}, {0x62}, {0x0f}, {0x0f, 0x38}, {0x0f, 0x3a}, {0x66, 0x0f}, {0xf3, 0x0f}, {0x41}, {0x67}}
	checked := 0
	for i := 0; i < 300000; i++ {
		w := append([]byte(nil), lead[i%len(lead)]...)
		for len(w) < 15 {
			w = append(w, byte(rng.UintN(256)))
		}
		a, err := x86asm.Decode(w, 64)
		if err != nil || a.Op == 0 || a.Len == 0 {
			continue
		}
		checked++
		l := a.Len
		if b, err := x86asm.Decode(w[:l], 64); err != nil || a != b {
			t.Fatalf("% x truncated to %d: %v %v, want %v", w, l, b, err, a)
		}
		other := append([]byte(nil), w[:l]...)
		for len(other) < l+int(rng.UintN(16)) {
			other = append(other, byte(rng.UintN(256)))
		}
		if c, err := x86asm.Decode(other, 64); err != nil || a != c {
			t.Fatalf("% x then % x: %v %v, want %v", w[:l], other[l:], c, err, a)
		}
	}
	require.Greater(t, checked, 100000)
}
