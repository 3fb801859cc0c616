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

// pcrelWindows returns instruction windows (15 bytes) that x86asm decodes
// as an instruction with a PC-relative field: branches with rel8, rel16
// and rel32 offsets, and RIP-relative memory operands of many encodings
// (legacy, REX, VEX, EVEX, prefixed, with immediates after the
// displacement), from fixed leads followed by random bytes and random
// opcodes whose ModRM byte is forced to the RIP-relative form.
func pcrelWindows(rng *rand.Rand, n int) [][]byte {
	lead := [][]byte{
		{0xe8}, {0xe9}, {0xeb}, {0x74}, {0x7f}, {0x0f, 0x84}, {0x0f, 0x8f}, {0xe0}, {0xe2}, {0xe3},
		{0xc7, 0xf8}, {0x66, 0xe9}, {0x66, 0x0f, 0x85}, {0x48, 0xe8},
		{0x8b, 0x05}, {0x48, 0x8b, 0x05}, {0x48, 0x8d, 0x05}, {0x4c, 0x8b, 0x3d}, {0x89, 0x0d},
		{0xc7, 0x05}, {0x48, 0xc7, 0x05}, {0x66, 0xc7, 0x05}, {0x80, 0x3d}, {0x81, 0x3d}, {0x83, 0x3d},
		{0xff, 0x15}, {0xff, 0x25}, {0xf3, 0x0f, 0x10, 0x05}, {0x66, 0x0f, 0x6f, 0x05},
		{0xc5, 0xf8, 0x28, 0x05}, {0xc5, 0xfc, 0x10, 0x05}, {0xc4, 0xe2, 0x7d, 0x18, 0x05},
		{0x62, 0xf1, 0x7c, 0x48, 0x10, 0x05}, {0x0f, 0xb6, 0x05}, {0x64, 0x48, 0x8b, 0x05},
		{0xf0, 0xff, 0x05}, {0xf0, 0x48, 0x0f, 0xb1, 0x0d}, {0x67, 0x8b, 0x05}, {0x41, 0x8b, 0x05},
		{0xd9, 0x05}, {0x0f, 0x18, 0x05}, {0x69, 0x05}, {0x6b, 0x05}, {0x0f, 0x3a, 0x0f, 0x05},
		{0x66, 0x0f, 0x3a, 0x0f, 0x05}, {0xc4, 0xe3, 0x79, 0x0f, 0x05},
	}
	opc := [][]byte{nil, {0x48}, {0x66}, {0x0f}, {0x66, 0x0f}, {0xf3, 0x0f}, {0xf2, 0x0f}, {0x0f, 0x38}, {0x0f, 0x3a}, {0x66, 0x0f, 0x38}, {0x41}, {0x64}, {0xf0}}
	var out [][]byte
	for i := 0; i < n; i++ {
		var w []byte
		if i%2 == 0 {
			w = append(w, lead[(i/2)%len(lead)]...)
		} else {
			// A random opcode, its ModRM byte mod 00, r/m 101: [rip+disp32].
			w = append(w, opc[(i/2)%len(opc)]...)
			w = append(w, byte(rng.UintN(256)), byte(rng.UintN(8))<<3|0x05)
		}
		for len(w) < 15 {
			w = append(w, byte(rng.UintN(256)))
		}
		a, err := x86asm.Decode(w, 64)
		if err != nil || a.Op == 0 || a.Len == 0 || a.PCRel == 0 {
			continue
		}
		out = append(out, w[:a.Len])
	}
	return out
}

// setField writes v's low width bytes, little-endian, at b[off:].
func setField(b []byte, off, width int, v uint64) {
	for k := 0; k < width; k++ {
		b[off+k] = byte(v >> (8 * k))
	}
}

// checkPCRelPatch checks one instruction b (x86asm decodes it with a
// PC-relative field) against the field set to v: x86asm decodes the new
// bytes as the same instruction but for that operand, and
// rawInsn.patchPCRel produces exactly x86asm's decoding of them.
func checkPCRelPatch(t testing.TB, b []byte, v uint64) (rel bool) {
	a, err := x86asm.Decode(b, 64)
	require.NoError(t, err)
	var ra rawInsn
	ra.setInst(&a)
	b2 := append([]byte(nil), b...)
	setField(b2, a.PCRelOff, a.PCRel, v)
	c, err := x86asm.Decode(b2, 64)
	if err != nil {
		t.Fatalf("% x decodes, % x (field %#x) does not: %v", b, b2, v, err)
	}
	var want rawInsn
	want.setInst(&c)
	require.True(t, samePCRel(&ra, b2, b), "% x / % x", b, b2)
	got := ra
	require.True(t, got.patchPCRel(b2), "% x: no PC-relative operand patched", b)
	if got != want {
		t.Fatalf("% x patched to % x: %+v, x86asm says %+v", b, b2, got, want)
	}
	return ra.args[0].kind == argRel
}

// TestPCRelPatch checks what rawDecode relies on to reuse a hint's
// instruction whose bytes differ from the current ones only inside its
// PC-relative field: x86asm's decoding of the new bytes is the hint's
// with that one operand (Rel, or the RIP-relative Mem.Disp) replaced, and
// patchPCRel computes that operand as x86asm does, for field values at
// every edge (0, ±1, the sign bits of 8, 16 and 32 bits) and random ones.
func TestPCRelPatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	edges := []uint64{0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe}
	wins := pcrelWindows(rng, 60000)
	rels, mems := 0, 0
	for _, b := range wins {
		rel := false
		for _, v := range edges {
			rel = checkPCRelPatch(t, b, v)
		}
		for k := 0; k < 4; k++ {
			checkPCRelPatch(t, b, rng.Uint64())
		}
		if rel {
			rels++
		} else {
			mems++
		}
	}
	require.Greater(t, rels, 2000)
	require.Greater(t, mems, 10000)
}

// TestRawDecodePCRelHint decodes code whose PC-relative fields all
// differ from a hint's and checks that the result is the decoding
// without a hint: every instruction taken from the hint, patched.
func TestRawDecodePCRelHint(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	var code []byte
	for _, b := range pcrelWindows(rng, 4000) {
		code = append(code, b...)
		code = append(code, 0x48, 0x89, 0xc3) // mov rbx, rax: reused as is
	}
	var hint Func
	hint.reset("f", 0x1000, code)
	rawDecode(&hint, nil)
	moved := append([]byte(nil), code...)
	for _, r := range hint.raw {
		if r.pcrel != 0 {
			setField(moved, int(r.off)+int(r.pcrelOff), int(r.pcrel), rng.Uint64())
		}
	}
	var want, got Func
	want.reset("f", 0x2000, moved)
	rawDecode(&want, nil)
	got.reset("f", 0x2000, moved)
	rawDecode(&got, &hint)
	require.Equal(t, len(want.raw), len(got.raw))
	patched := 0
	for i := range want.raw {
		w, g := want.raw[i], got.raw[i]
		if g.from == 0 && g.pcrel != 0 {
			patched++
		}
		g.from = 0
		require.Equal(t, w, g, "instruction %d at %#x", i, w.off)
	}
	require.Greater(t, patched, 1000)
}

// FuzzPCRelPatch: for any bytes x86asm decodes as an instruction with a
// PC-relative field, and any value of that field, patching the decoding
// is decoding the new bytes.
func FuzzPCRelPatch(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, b := range pcrelWindows(rng, 200) {
		f.Add(b, rng.Uint64())
	}
	f.Fuzz(func(t *testing.T, b []byte, v uint64) {
		if len(b) > 15 {
			b = b[:15]
		}
		a, err := x86asm.Decode(b, 64)
		if err != nil || a.Op == 0 || a.Len == 0 || a.PCRel == 0 {
			return
		}
		checkPCRelPatch(t, b[:a.Len], v)
	})
}

// plainDecode decodes code as rawDecode does without a hint or a memo:
// fill runs as one entry, every other instruction by x86asm.
func plainDecode(code []byte) []rawInsn {
	var out []rawInsn
	for off := 0; off < len(code); {
		if c := code[off]; c == 0xcc || c == 0x90 {
			var r rawInsn
			r, off = fillRun(code, off)
			out = append(out, r)
			continue
		}
		r := rawInsn{off: uint64(off), n: 1}
		inst, err := x86asm.Decode(code[off:], 64)
		r.ok = err == nil && inst.Len > 0
		if r.ok {
			r.setInst(&inst)
		} else {
			r.len = 1
		}
		out = append(out, r)
		off += int(r.len)
	}
	return out
}

// TestMemoDecodes decodes code made of many kinds of instructions (random
// windows with real prefixes, PC-relative ones, undecodable bytes, fill)
// into one Func again and again, its PC-relative fields changed each
// time, its memo filling, overflowing and being emptied: every decoding
// is x86asm's.
func TestMemoDecodes(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var code []byte
	lead := [][]byte{nil, {0x48}, {0x66}, {0xf0}, {0xf3}, {0xf2}, {0x64}, {0xc5}, {0xc4}, {0x62}, {0x0f}, {0x0f, 0x38}, {0x66, 0x0f}, {0x41}, {0x67}}
	for i, b := range pcrelWindows(rng, 6000) {
		code = append(code, b...)
		w := append([]byte(nil), lead[i%len(lead)]...)
		for len(w) < 15 {
			w = append(w, byte(rng.UintN(256)))
		}
		if a, err := x86asm.Decode(w, 64); err == nil && a.Len > 0 {
			w = w[:a.Len]
		} else {
			w = w[:1]
		}
		code = append(code, w...)
		if i%50 == 0 {
			code = append(code, 0xcc, 0xcc, 0x90)
		}
	}
	var f Func
	for pass := 0; pass < 4; pass++ {
		want := plainDecode(code)
		for i := 0; i < len(code); i += 1 + rng.IntN(len(code)/8) {
			f.reset("f", 0x1000, code[i:min(len(code), i+1+rng.IntN(4096))])
			rawDecode(&f, nil)
			sub := plainDecode(f.code)
			require.Equal(t, sub, f.raw, "pass %d window %d", pass, i)
		}
		f.reset("f", 0x1000, code)
		rawDecode(&f, nil)
		require.Equal(t, want, f.raw, "pass %d", pass)
		for _, r := range want {
			if r.pcrel != 0 {
				setField(code, int(r.off)+int(r.pcrelOff), int(r.pcrel), rng.Uint64())
			}
		}
	}
	require.NotNil(t, f.memo)
}
