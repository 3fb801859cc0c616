package canon

import (
	"bytes"
	"hash/maphash"
	"sync"
)

// DecodeCache keeps the machine-code decodings of functions by their
// bytes, so that a function whose bytes did not change since an earlier
// image (the previous update of an incremental sequence, the other link
// of a comparison) is not decoded again; and the last decoding of each
// symbol, so that one whose bytes did change (it moved, and with it the
// displacements of its calls) is decoded again only where its bytes
// differ, instruction by instruction (as with DecodeOptions.Hint). Only the decoding of the bytes
// into instructions is reused — a pure function of the bytes; naming the
// addresses they refer to (symbols, GOT slots, trampolines, pointer
// sites) is done again against each image, so a cached function whose
// callee moved, or whose GOT slot now holds another address, still gets
// its true canonical form. Images are unaffected by whether a cache is
// used.
//
// A cache holds at most the given number of instructions; when full it
// is emptied and filled again. It is safe for concurrent use.
type DecodeCache struct {
	mu    sync.Mutex
	seed  maphash.Seed
	max   int
	insns int
	m     map[uint64][]cachedFunc
	// byName is the last decoding stored for each symbol: a function
	// whose bytes changed (it moved, so its calls' displacements did)
	// reuses the instructions whose bytes did not (rawDecode's hint).
	byName map[string]*cachedFunc
	hits   int
	miss   int
}

type cachedFunc struct {
	code []byte
	raw  []rawInsn
}

// NewDecodeCache returns a cache of at most maxInsns decoded instructions
// (about 250 bytes each); maxInsns <= 0 means 1<<20.
func NewDecodeCache(maxInsns int) *DecodeCache {
	if maxInsns <= 0 {
		maxInsns = 1 << 20
	}
	return &DecodeCache{seed: maphash.MakeSeed(), max: maxInsns, m: map[uint64][]cachedFunc{}, byName: map[string]*cachedFunc{}}
}

// Stats returns the number of functions found in the cache and decoded.
func (c *DecodeCache) Stats() (hits, misses int) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.miss
}

// lookup fills f.raw from the cache when f.code was decoded before.
func (c *DecodeCache) lookup(f *Func) bool {
	if c == nil {
		return false
	}
	h := maphash.Bytes(c.seed, f.code)
	c.mu.Lock()
	var found *cachedFunc
	for i, e := range c.m[h] {
		if bytes.Equal(e.code, f.code) {
			found = &c.m[h][i]
			break
		}
	}
	if found == nil {
		c.miss++
		c.mu.Unlock()
		return false
	}
	c.hits++
	raw := found.raw // entries are never modified once stored
	c.mu.Unlock()
	f.raw = append(f.raw[:0], raw...)
	return true
}

// previous returns, as a hint for rawDecode, the last decoding stored for
// the symbol f decodes, nil when there is none.
func (c *DecodeCache) previous(f *Func) *Func {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	e := c.byName[f.name]
	c.mu.Unlock()
	if e == nil {
		return nil
	}
	return &Func{name: f.name, code: e.code, raw: e.raw}
}

// store records f's decoding (before trimming).
func (c *DecodeCache) store(f *Func) {
	if c == nil || len(f.raw) > c.max {
		return
	}
	e := cachedFunc{code: bytes.Clone(f.code), raw: append([]rawInsn(nil), f.raw...)}
	for i := range e.raw {
		e.raw[i].from = 0 // refers to this decoding's hint, not to a later one's
	}
	h := maphash.Bytes(c.seed, f.code)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.insns+len(f.raw) > c.max {
		clear(c.m)
		clear(c.byName)
		c.insns = 0
	}
	c.m[h] = append(c.m[h], e)
	c.byName[f.name] = &e
	c.insns += len(f.raw)
}
