// Package incr is the format-neutral core of linkcheck's incremental linker,
// modelled on the Zig self-hosted linkers: output sections are allocated with
// spare capacity; atoms live in per-section regions with free lists and the
// ideal-capacity padding rule, so that code that grows a little is rewritten
// in place; a GOT table with a free list; trampolines for moved functions
// (one per symbol, at its first address, retargeted on later moves); and the
// lazily regenerated error table.
//
// The per-format glue (ref/elf for ELF) owns the file: it asks this package
// where everything goes and writes the bytes with positioned writes.
package incr

import (
	"fmt"
	"sort"
)

// IdealFactor is the ideal-capacity padding rule: an atom of size n is given
// a slot of n + n/IdealFactor bytes (as Zig's padToIdeal), so it can grow by
// a third in place.
const IdealFactor = 3

// PadToIdeal returns the slot size for an atom of size n.
func PadToIdeal(n uint64) uint64 { return n + n/IdealFactor }

// MinHole is the smallest free hole worth keeping. Alignment padding
// between atoms (under 16 bytes for 16-byte-aligned code) can hold no atom —
// the smallest function's slot is larger, and an 8-byte global's slot is 10
// bytes — so recording it would only lengthen the first-fit search (a
// 100,000-function link leaves ~90,000 such gaps). Such bytes simply stay
// unused: the loss is bounded by the padding itself.
const MinHole = 16

// Span is a range of addresses [Addr, Addr+Size).
type Span struct {
	Addr, Size uint64
}

// End returns the first address past the span.
func (s Span) End() uint64 { return s.Addr + s.Size }

// Region is a contiguous range of virtual addresses [Base, Base+Cap) in
// which atoms are placed. Space below High has been handed out at least
// once; Free holds the holes below High, sorted by address and coalesced.
type Region struct {
	Name string
	Base uint64
	Cap  uint64
	High uint64 // bytes from Base used so far (the bump pointer)
	Free []Span
	// Indexed is set for a region whose every slot, used or free, is an
	// entry of an index space in address order (Wasm's Code section: its
	// i-th body is function i). Its holes are never split or merged (an
	// allocation takes a whole hole, a released slot stays one hole), and
	// space below High is never left unlisted, so an entry keeps its
	// index while it exists: a slot allocated at the bump pointer is the
	// last entry, and High never goes down.
	Indexed bool `json:",omitempty"`
	// Entries are the slot starts of an indexed region, ascending.
	Entries []uint64 `json:",omitempty"`
}

// Index returns the entry index of the slot at addr in an indexed region.
func (r *Region) Index(addr uint64) (uint64, bool) {
	i := sort.Search(len(r.Entries), func(i int) bool { return r.Entries[i] >= addr })
	if !r.Indexed || i == len(r.Entries) || r.Entries[i] != addr {
		return 0, false
	}
	return uint64(i), true
}

// AllocSlot is Alloc that also returns the bytes granted: size, or in an
// indexed region the whole hole it takes (alignment does not apply
// there: an entry's place is its order, not its address).
func (r *Region) AllocSlot(size, align uint64) (addr, granted uint64, ok bool) {
	if !r.Indexed {
		addr, ok = r.Alloc(size, align)
		return addr, max(size, 1), ok
	}
	size = max(size, 1)
	for i, h := range r.Free {
		if h.Size >= size {
			r.Free = append(r.Free[:i], r.Free[i+1:]...)
			return h.Addr, h.Size, true
		}
	}
	a := r.Base + r.High
	if a+size > r.Base+r.Cap {
		return 0, 0, false
	}
	r.High += size
	r.Entries = append(r.Entries, a)
	return a, size, true
}

func alignUp(v, a uint64) uint64 {
	if a <= 1 {
		return v
	}
	return (v + a - 1) &^ (a - 1)
}

// Alloc finds room for size bytes aligned to align: the first free hole that
// fits, else the end of the used space. It reports false when the region is
// full (the caller grows it and tries again).
func (r *Region) Alloc(size, align uint64) (uint64, bool) {
	if size == 0 {
		size = 1
	}
	for i, h := range r.Free {
		a := alignUp(h.Addr, align)
		if a+size > h.End() || a < h.Addr {
			continue
		}
		// Split the hole around [a, a+size).
		var rest []Span
		if a-h.Addr >= MinHole {
			rest = append(rest, Span{h.Addr, a - h.Addr})
		}
		if h.End()-(a+size) >= MinHole {
			rest = append(rest, Span{a + size, h.End() - a - size})
		}
		r.Free = append(r.Free[:i], append(rest, r.Free[i+1:]...)...)
		return a, true
	}
	a := alignUp(r.Base+r.High, align)
	if a+size > r.Base+r.Cap {
		return 0, false
	}
	if gap := a - (r.Base + r.High); gap >= MinHole {
		r.Free = insertSpan(r.Free, Span{r.Base + r.High, gap})
	}
	r.High = a + size - r.Base
	return a, true
}

// Release returns [addr, addr+size) to the free list, coalescing with its
// neighbours; space at the top is given back to the bump pointer.
func (r *Region) Release(addr, size uint64) error {
	if size == 0 {
		return nil
	}
	if addr < r.Base || addr+size > r.Base+r.High {
		return fmt.Errorf("incr: region %s: release of [%#x, %#x) outside the used range [%#x, %#x)", r.Name, addr, addr+size, r.Base, r.Base+r.High)
	}
	for _, h := range r.Free {
		if addr < h.End() && h.Addr < addr+size {
			return fmt.Errorf("incr: region %s: double release: [%#x, %#x) overlaps free [%#x, %#x)", r.Name, addr, addr+size, h.Addr, h.End())
		}
	}
	if r.Indexed {
		if _, ok := r.Index(addr); !ok {
			return fmt.Errorf("incr: region %s: release of [%#x, %#x): no slot starts there", r.Name, addr, addr+size)
		}
		i := sort.Search(len(r.Free), func(i int) bool { return r.Free[i].Addr >= addr })
		r.Free = append(r.Free, Span{})
		copy(r.Free[i+1:], r.Free[i:])
		r.Free[i] = Span{addr, size}
		// A free slot at the top stays a free slot: High never goes
		// down, so what a format keeps past it (Wasm's last free body)
		// is always overwritten by the next slot allocated there.
		return nil
	}
	r.Free = insertSpan(r.Free, Span{addr, size})
	// Give a free tail back to the bump pointer.
	if n := len(r.Free); n > 0 && r.Free[n-1].End() == r.Base+r.High {
		r.High = r.Free[n-1].Addr - r.Base
		r.Free = r.Free[:n-1]
	}
	return nil
}

// insertSpan inserts s into the sorted list, merging adjacent spans.
func insertSpan(list []Span, s Span) []Span {
	i := sort.Search(len(list), func(i int) bool { return list[i].Addr >= s.Addr })
	list = append(list, Span{})
	copy(list[i+1:], list[i:])
	list[i] = s
	// Merge with the next, then with the previous.
	if i+1 < len(list) && list[i].End() == list[i+1].Addr {
		list[i].Size += list[i+1].Size
		list = append(list[:i+1], list[i+2:]...)
	}
	if i > 0 && list[i-1].End() == list[i].Addr {
		list[i-1].Size += list[i].Size
		list = append(list[:i], list[i+1:]...)
	}
	return list
}

// Grow raises the region's capacity to at least need bytes, doubling.
func (r *Region) Grow(need uint64) {
	c := max(r.Cap, 4096)
	for c < need {
		c *= 2
	}
	r.Cap = c
}

// GOT is a table of 8-byte slots, one per symbol that needs one, with a free
// list: a deleted symbol's slot is reused by the next symbol that needs one.
type GOT struct {
	Slots []string // symbol of each slot, "" when free
	Free  []int    // free slot indexes, sorted ascending (lowest reused first)
	index map[string]int
}

// NewGOT returns an empty GOT table.
func NewGOT() *GOT { return &GOT{index: map[string]int{}} }

// Rebuild recomputes the symbol index after the table was loaded from a
// sidecar file.
func (g *GOT) Rebuild() error {
	g.index = make(map[string]int, len(g.Slots))
	for i, s := range g.Slots {
		if s == "" {
			continue
		}
		if _, dup := g.index[s]; dup {
			return fmt.Errorf("incr: GOT: symbol %s has two slots", s)
		}
		g.index[s] = i
	}
	return nil
}

// Lookup returns the slot of sym.
func (g *GOT) Lookup(sym string) (int, bool) {
	i, ok := g.index[sym]
	return i, ok
}

// Acquire returns sym's slot, allocating one (from the free list first) if
// it has none; fresh reports a new slot.
func (g *GOT) Acquire(sym string) (slot int, fresh bool) {
	if i, ok := g.index[sym]; ok {
		return i, false
	}
	if len(g.Free) > 0 {
		slot = g.Free[0]
		g.Free = g.Free[1:]
		g.Slots[slot] = sym
	} else {
		slot = len(g.Slots)
		g.Slots = append(g.Slots, sym)
	}
	g.index[sym] = slot
	return slot, true
}

// Release frees sym's slot; it reports the slot freed.
func (g *GOT) Release(sym string) (int, bool) {
	i, ok := g.index[sym]
	if !ok {
		return 0, false
	}
	delete(g.index, sym)
	g.Slots[i] = ""
	j := sort.SearchInts(g.Free, i)
	g.Free = append(g.Free, 0)
	copy(g.Free[j+1:], g.Free[j:])
	g.Free[j] = i
	return i, true
}

// Len returns the number of slots, free or not.
func (g *GOT) Len() int { return len(g.Slots) }
