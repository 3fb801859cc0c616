package canon

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon/canontest"
)

// TestKeptDecodingsMovedOrPatched: a DecodeCache's decodings equal plain
// ones (instructions with their addresses and targets, notes, length,
// padding) along a sequence of links of one program in which functions
// move (other unit orders: the displacements of their calls and
// RIP-relative operands change) and in which immediates change (error
// values renumbered: the same lengths, other bytes), side 1 from side
// 0's decoding as diff.Compare does; and the shortcuts are taken: kept
// decodings brought up to date, instructions decoded again in place,
// side 1 brought from side 0's decoding.
func TestKeptDecodingsMovedOrPatched(t *testing.T) {
	g, err := canontest.LinkGenerated(60, 4)
	require.NoError(t, err)
	rots, err := g.Rotations()
	require.NoError(t, err)
	layouts := append([][]byte{g.Exe, g.Rev}, rots...)
	cache := NewDecodeCache(0)
	var scratch, plain Func
	for step := 0; step < 2*len(layouts); step++ {
		a := layouts[step%len(layouts)]
		b := layouts[(step+1)%len(layouts)]
		if step%2 == 1 {
			b = changeImmediates(t, b, step)
		}
		ima, err := Open(a, g.Objs)
		require.NoError(t, err)
		imb, err := Open(b, g.Objs)
		require.NoError(t, err)
		for _, sa := range ima.Symbols {
			sb := imb.Lookup(sa.Name)
			if !sa.IsCode() || sb == nil {
				continue
			}
			fa := cache.Decode(ima, sa, 0, &scratch, DecodeOptions{})
			fb := cache.Decode(imb, sb, 1, &scratch, DecodeOptions{Hint: fa})
			for _, c := range []struct {
				im  *Image
				s   *Symbol
				got *Func
			}{{ima, sa, fa}, {imb, sb, fb}} {
				c.im.Decode(c.s, &plain, DecodeOptions{})
				where := fmt.Sprintf("step %d %s", step, c.s.Name)
				require.Equal(t, plain.Insns(), c.got.Insns(), where)
				require.Equal(t, append([]string{}, plain.Notes()...), append([]string{}, c.got.Notes()...), where)
				require.Equal(t, plain.Len(), c.got.Len(), where)
				require.Equal(t, plain.Padding(), c.got.Padding(), where)
			}
		}
	}
	updated, fromHint, decoded, redecoded := cache.paths[pathUpdated].Load(), cache.paths[pathFromHint].Load(), cache.paths[pathDecoded].Load(), cache.paths[pathRedecoded].Load()
	t.Logf("updated %d, from the hint %d, decoded %d; %d instructions decoded again in place", updated, fromHint, decoded, redecoded)
	require.Greater(t, updated, 4*decoded, "kept decodings of moved functions are brought up to date")
	require.Positive(t, fromHint)
	require.Positive(t, redecoded)
}

// changeImmediates returns a copy of exe in which the 32-bit immediate
// of every `mov r32, imm32` (b8+r) in a function, at most one in three,
// is changed: the same instructions, other values.
func changeImmediates(t *testing.T, exe []byte, seed int) []byte {
	im, err := Open(exe, nil)
	require.NoError(t, err)
	out := bytes.Clone(exe)
	var f Func
	n := 0
	for _, s := range im.Symbols {
		if !s.IsCode() {
			continue
		}
		im.Decode(s, &f, DecodeOptions{})
		for _, r := range f.raw {
			if !r.ok || r.n != 1 || r.len != 5 || f.code[r.off]&^7 != 0xb8 {
				continue
			}
			if n++; n%3 != seed%3 {
				continue
			}
			off := canontest.Offset(t, exe, s.addr+r.off)
			out[off+1] ^= byte(1 + n%7)
		}
	}
	require.Positive(t, n)
	return out
}

// TestUpdateAfterUndecodable: an undecodable byte's decoding, or one
// without an operation, may depend on the bytes after it (x86asm reads
// ahead), so a kept decoding is not brought up to date past one whose
// reach a changed byte lies in: `66 0f 72 da` decodes as an operation-less
// prefix, an undecodable 0f and `jb`, `66 0f 28 da` as one movapd.
func TestUpdateAfterUndecodable(t *testing.T) {
	r := &reader{starts: map[uint64][]*Symbol{}}
	for _, c := range []struct{ old, cur []byte }{
		{[]byte{0x66, 0x0f, 0x72, 0xda, 0xc3}, []byte{0x66, 0x0f, 0x28, 0xda, 0xc3}},
		{[]byte{0x55, 0xb8, 1, 0, 0, 0, 0xc3}, []byte{0x55, 0xb8, 2, 0, 0, 0, 0xc3}},
		{[]byte{0x55, 0x72, 0x10, 0xc3}, []byte{0x55, 0x72, 0x20, 0xc3}},
	} {
		var f, plain Func
		f.reset("f", 0x1000, bytes.Clone(c.old))
		x86_64{}.decode(&f, false, r, nil, nil)
		var p patchScratch
		ok, _ := x86_64{}.update(&f, c.cur, 0x1000, r, &p)
		plain.reset("f", 0x1000, c.cur)
		x86_64{}.decode(&plain, false, r, nil, nil)
		if ok {
			require.Equal(t, plain.Insns(), f.Insns(), "% x -> % x", c.old, c.cur)
		}
		require.Equal(t, c.old[0] != 0x66, ok, "% x -> % x", c.old, c.cur)
	}
}
