package canon

import "bytes"

// insnMemo remembers the x86_64 instructions a Func decoded, by their
// bytes, so that the next occurrence of the same instruction anywhere is
// not decoded again. Compiled code repeats a small set of instructions
// (frame setup, loads and stores of the same slots, calls that differ
// only in their displacement): most of a program's instructions are
// found here. It relies on what rawDecode's hint does: x86asm's decoding
// of a recognized instruction of length L depends only on those L bytes
// (TestDecodePrefixProperty), and bytes that differ only inside its
// PC-relative field decode as it with that operand patched
// (TestPCRelPatch). Whether an instruction is found here or decoded,
// its decoding is the same; images do not depend on the memo.
//
// An instruction is filed under its first k bytes, k = min(L, 4), or
// fewer when its PC-relative field starts earlier (a call's e8 alone);
// a lookup tries k = 4, 3, 2, 1, each only when an entry filed under k
// bytes starts with the first two bytes looked up (the first, for k =
// 1): lens says which. The table is open-addressed, each slot heading a
// chain of entries of one key, newest first; when full it is emptied and
// filled again. It holds no pointers.
type insnMemo struct {
	slots []int32 // 1 + the index in ents of a key's newest entry; 0 empty
	ents  []memoEnt
	// lens has bit k (2 to 4) of entry b0 | b1<<8 set when an entry is
	// filed under k bytes that start b0, b1, and bit 1 of entry b0 when
	// one is filed under the byte b0 alone.
	lens []uint8
}

type memoEnt struct {
	key  uint64
	next int32 // 1 + the index of the key's next older entry; 0 none
	b    [15]byte
	raw  rawInsn // off, idx and from zero
}

const (
	memoSlotBits = 15
	memoSlots    = 1 << memoSlotBits
	// memoMax keeps the table at most half full, so probing ends.
	memoMax = memoSlots / 2
	// memoChain bounds the entries tried under one key (instructions
	// that share their first four bytes, such as stores of different
	// immediates to one slot).
	memoChain = 8
)

// memoKey is the key of the first k bytes of b (k <= 4, len(b) >= k).
func memoKey(b []byte, k int) uint64 {
	v := uint64(k) << 32
	for i := 0; i < k; i++ {
		v |= uint64(b[i]) << (8 * i)
	}
	return v
}

// slot returns the slot of key: the one holding its chain, or the empty
// one where it would go.
func (m *insnMemo) slot(key uint64) *int32 {
	i := (key * 0x9e3779b97f4a7c15) >> (64 - memoSlotBits)
	for {
		s := &m.slots[i]
		if *s == 0 || m.ents[*s-1].key == key {
			return s
		}
		i = (i + 1) & (memoSlots - 1)
	}
}

// find looks up the instruction b starts with; on success it sets *r to
// its decoding (off, idx, from zero) and reports true.
func (m *insnMemo) find(b []byte, r *rawInsn) bool {
	if m == nil || len(m.ents) == 0 || len(b) == 0 {
		return false
	}
	mask := m.lens[b[0]] & 2
	if len(b) >= 2 {
		mask |= m.lens[uint16(b[0])|uint16(b[1])<<8] &^ 2
	}
	for k := min(len(b), 4); k >= 1; k-- {
		if mask&(1<<k) == 0 {
			continue // no entry of k bytes starts so
		}
		e := *m.slot(memoKey(b, k))
		for steps := 0; e != 0 && steps < memoChain; steps++ {
			ent := &m.ents[e-1]
			e = ent.next
			l := int(ent.raw.len)
			if l > len(b) {
				continue
			}
			if bytes.Equal(b[:l], ent.b[:l]) {
				*r = ent.raw
				return true
			}
			if samePCRel(&ent.raw, b[:l], ent.b[:l]) {
				*r = ent.raw
				if r.patchPCRel(b[:l]) {
					return true
				}
			}
		}
	}
	return false
}

// add files the decoding r of the instruction whose bytes are b.
func (m *insnMemo) add(b []byte, r *rawInsn) {
	l := len(b)
	if l == 0 || l > 15 || int(r.len) != l {
		return
	}
	if m.slots == nil {
		m.slots = make([]int32, memoSlots)
		m.lens = make([]uint8, 1<<16)
	}
	if len(m.ents) >= memoMax {
		clear(m.slots)
		clear(m.lens)
		m.ents = m.ents[:0]
	}
	k := min(l, 4)
	if r.pcrel != 0 && int(r.pcrelOff) < k {
		k = int(r.pcrelOff)
	}
	if k == 0 {
		return
	}
	if k == 1 {
		m.lens[b[0]] |= 2
	} else {
		m.lens[uint16(b[0])|uint16(b[1])<<8] |= 1 << k
	}
	s := m.slot(memoKey(b, k))
	e := memoEnt{key: memoKey(b, k), next: *s, raw: *r}
	copy(e.b[:], b)
	e.raw.off, e.raw.idx, e.raw.from = 0, 0, 0
	m.ents = append(m.ents, e)
	*s = int32(len(m.ents))
}
