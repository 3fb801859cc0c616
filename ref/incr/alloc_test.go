package incr

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRegionAllocRelease(t *testing.T) {
	r := &Region{Name: ".text", Base: 0x1000, Cap: 0x100}
	a, ok := r.Alloc(0x10, 16)
	require.True(t, ok)
	require.Equal(t, uint64(0x1000), a)
	b, ok := r.Alloc(0x8, 64) // leaves a hole [0x1010, 0x1040)
	require.True(t, ok)
	require.Equal(t, uint64(0x1040), b)
	require.Equal(t, []Span{{0x1010, 0x30}}, r.Free)
	c, ok := r.Alloc(0x20, 16) // first fit in the hole
	require.True(t, ok)
	require.Equal(t, uint64(0x1010), c)
	require.Equal(t, []Span{{0x1030, 0x10}}, r.Free)

	require.NoError(t, r.Release(a, 0x10))
	require.NoError(t, r.Release(c, 0x20)) // coalesces into [0x1000, 0x1040)
	require.Equal(t, []Span{{0x1000, 0x40}}, r.Free)
	require.ErrorContains(t, r.Release(a, 0x10), "double release")
	require.ErrorContains(t, r.Release(0x2000, 1), "outside the used range")

	require.NoError(t, r.Release(b, 0x8)) // the tail goes back to the bump pointer
	require.Empty(t, r.Free)
	require.Equal(t, uint64(0), r.High)

	_, ok = r.Alloc(0x101, 1)
	require.False(t, ok, "past the capacity")
	r.Grow(0x101)
	require.Equal(t, uint64(0x1000), r.Cap)
	_, ok = r.Alloc(0x101, 1)
	require.True(t, ok)
}

// TestRegionRandom allocates and releases at random and checks that live
// spans never overlap, are aligned and lie inside the region.
func TestRegionRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	r := &Region{Name: "x", Base: 0x10000, Cap: 1 << 20}
	live := map[uint64]uint64{}
	for i := 0; i < 5000; i++ {
		if len(live) > 0 && rng.Intn(3) == 0 {
			for a, s := range live {
				require.NoError(t, r.Release(a, s))
				delete(live, a)
				break
			}
			continue
		}
		size := uint64(1 + rng.Intn(300))
		align := uint64(1) << rng.Intn(8)
		a, ok := r.Alloc(size, align)
		require.True(t, ok)
		require.Zero(t, a%align)
		require.GreaterOrEqual(t, a, r.Base)
		require.LessOrEqual(t, a+size, r.Base+r.High)
		for b, s := range live {
			require.False(t, a < b+s && b < a+size, "overlap [%#x,+%d) [%#x,+%d)", a, size, b, s)
		}
		live[a] = size
	}
	for i := 1; i < len(r.Free); i++ {
		require.Less(t, r.Free[i-1].End(), r.Free[i].Addr, "free list sorted and coalesced")
	}
}

func TestGOT(t *testing.T) {
	g := NewGOT()
	a, fresh := g.Acquire("a")
	require.True(t, fresh)
	b, _ := g.Acquire("b")
	c, _ := g.Acquire("c")
	require.Equal(t, []int{0, 1, 2}, []int{a, b, c})
	again, fresh := g.Acquire("b")
	require.False(t, fresh)
	require.Equal(t, 1, again)

	freed, ok := g.Release("b")
	require.True(t, ok)
	require.Equal(t, 1, freed)
	_, ok = g.Release("b")
	require.False(t, ok)
	g.Release("a")
	d, _ := g.Acquire("d") // lowest free slot first
	require.Equal(t, 0, d)
	e, _ := g.Acquire("e")
	require.Equal(t, 1, e)
	f, _ := g.Acquire("f")
	require.Equal(t, 3, f)
	require.Equal(t, []string{"d", "e", "c", "f"}, g.Slots)

	g2 := &GOT{Slots: append([]string(nil), g.Slots...)}
	require.NoError(t, g2.Rebuild())
	i, ok := g2.Lookup("c")
	require.True(t, ok)
	require.Equal(t, 2, i)
	g2.Slots[0] = "c"
	require.ErrorContains(t, g2.Rebuild(), "two slots")
}

func TestPadToIdeal(t *testing.T) {
	require.Equal(t, uint64(40), PadToIdeal(30))
	require.Equal(t, uint64(0), PadToIdeal(0))
}

// TestIndexedRegion: an indexed region (Wasm's Code section) hands out
// whole free slots, never splits or merges them, never gives its top back,
// so every slot keeps its index while it exists.
func TestIndexedRegion(t *testing.T) {
	r := &Region{Name: ".text", Base: 0x1000, Cap: 0x1000, Indexed: true}
	var addrs []uint64
	for _, size := range []uint64{0x40, 0x20, 0x80, 0x30} {
		a, slot, ok := r.AllocSlot(size, 16) // alignment does not apply
		require.True(t, ok)
		require.Equal(t, size, slot)
		addrs = append(addrs, a)
	}
	require.Equal(t, []uint64{0x1000, 0x1040, 0x1060, 0x10e0}, addrs)
	require.Equal(t, addrs, r.Entries)
	index := func(a uint64) uint64 {
		i, ok := r.Index(a)
		require.True(t, ok, "%#x", a)
		return i
	}
	// Two neighbours freed: two free slots, not one; the last one freed
	// stays a slot (High does not go down).
	require.NoError(t, r.Release(0x1040, 0x20))
	require.NoError(t, r.Release(0x1060, 0x80))
	require.NoError(t, r.Release(0x10e0, 0x30))
	require.Equal(t, []Span{{0x1040, 0x20}, {0x1060, 0x80}, {0x10e0, 0x30}}, r.Free)
	require.Equal(t, uint64(0x110), r.High)
	require.Equal(t, uint64(3), index(0x10e0))
	require.ErrorContains(t, r.Release(0x1041, 1), "double release")
	require.ErrorContains(t, r.Release(0x1008, 8), "no slot starts there")
	// A new atom takes the first free slot that fits, whole: it gets that
	// slot's index, and no other index moves.
	a, slot, ok := r.AllocSlot(0x50, 1)
	require.True(t, ok)
	require.Equal(t, uint64(0x1060), a)
	require.Equal(t, uint64(0x80), slot)
	require.Equal(t, uint64(2), index(a))
	require.Equal(t, uint64(0), index(0x1000))
	require.Equal(t, []Span{{0x1040, 0x20}, {0x10e0, 0x30}}, r.Free)
	// Nothing fits: the bump pointer, one more entry at the end.
	a, _, ok = r.AllocSlot(0x100, 1)
	require.True(t, ok)
	require.Equal(t, uint64(0x1110), a)
	require.Equal(t, uint64(4), index(a))
	_, ok = r.Index(0x1001)
	require.False(t, ok)
	// Full: the caller grows the region.
	_, _, ok = r.AllocSlot(0x1000, 1)
	require.False(t, ok)
}
