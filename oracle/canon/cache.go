package canon

import (
	"bytes"
	"hash/maphash"
	"sync"
	"sync/atomic"
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
	// kept holds each symbol's last decodings on each side of the
	// comparisons that share the cache (Decode), keptInsns their
	// instructions.
	kept      map[keptKey]*keptFunc
	keptInsns int
	// gens numbers the states of the kept decodings (keptFunc.gen).
	gens uint64
	// paths counts how Decode served each call (a Decode* path), and
	// the instructions its updates decoded again (pathRedecoded).
	paths [4]atomic.Int64
}

// Decode's paths, counted in DecodeCache.paths.
const (
	pathUpdated   = iota // the kept decoding brought up to date
	pathFromHint         // the hint brought to the image
	pathDecoded          // decoded
	pathRedecoded        // instructions an update decoded again
)

// keptKey names a kept decoding: a symbol on one side of comparisons.
type keptKey struct {
	side int
	name string
}

// keptFunc is a symbol's last decoding on one side (when valid), its
// bytes a copy of its own (Func.own), since an image's bytes may change
// after the comparison: an incremental output held in memory is patched
// in place.
type keptFunc struct {
	f     Func
	valid bool
	// inferred is whether f's size was inferred (it trimmed fill).
	inferred bool
	insns    int
	patch    patchScratch // decoder.update's scratch
	// gen names the state of f's instructions' text: a number of the
	// cache's, new whenever a decoding changes an operation or operand.
	gen uint64
	// same, on side 0, is the last comparison of f with side 1's
	// decoding of the symbol that found no difference (CompareCode).
	same sameCode
}

// sameCode is a comparison of two kept decodings, by their gens, that
// found no difference, and its counts.
type sameCode struct {
	genA, genB uint64
	insns      int
	bytes      uint64
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
	c := &DecodeCache{seed: maphash.MakeSeed(), max: maxInsns, m: map[uint64][]cachedFunc{}, byName: map[string]*cachedFunc{},
		kept: map[keptKey]*keptFunc{}}
	return c
}

// Decode decodes code symbol s of im as im.Decode does, into a Func the
// cache keeps for s's name on the given side of the comparisons that
// share it (diff.Compare's images are sides 0 and 1), and returns it; it
// stays valid until the next Decode of that name and side. The previous
// decoding of the same name and side is brought up to date when it can
// be (x86_64.update: the same instruction boundaries, the instructions
// whose bytes changed decoded again or, when only their PC-relative
// field did, patched); when it cannot (the function changed its length,
// or it is another program's), opts.Hint — the same symbol in the other
// image, the same code but for displacements — is, copied, when it has
// the same length; and failing that the symbol is decoded, with opts.Hint
// as hint, or the previous decoding when there is none. From one check
// of an incremental sequence to the next a function's bytes change
// little — in the incremental output not at all unless it was
// rewritten, in a fresh link mostly in the displacements of calls and
// in error values — so most of its instructions, and the canonical form
// of each instruction that depends only on its bytes and its function's
// own instructions (item.local, with no pointer site in it in this
// image), are kept, and every other instruction is canonicalized against
// im. scratch lends the decoding its instruction memo. The Func is
// exactly what im.Decode would give.
// Decode may be called from several goroutines at once, but not for the
// same name and side.
func (c *DecodeCache) Decode(im *Image, s *Symbol, side int, scratch *Func, opts DecodeOptions) *Func {
	key := keptKey{side: side, name: s.Name}
	c.mu.Lock()
	k := c.kept[key]
	if k == nil {
		k = new(keptFunc)
		c.kept[key] = k
	}
	if k.valid {
		c.hits++
	} else {
		c.miss++
	}
	c.mu.Unlock()
	code := s.IsCode() && s.ext != 0 && im.r != nil
	if k.valid && code && k.inferred == s.SizeInferred {
		k.f.discard = opts.NoNotes
		k.f.memo = scratch.memo // update's decodings; scratch is the caller's
		ok, changed := im.r.redecode(s, &k.f, &k.patch)
		k.f.memo = nil
		if ok {
			c.paths[pathUpdated].Add(1)
			c.paths[pathRedecoded].Add(int64(len(k.patch.full)))
			if changed {
				k.gen = c.newGen()
			}
			return &k.f
		}
		if len(k.patch.idx) > 0 {
			k.valid = false // patched halfway: no hint
		}
	}
	if h := opts.Hint; code && h != nil && h != &k.f && h.name == s.Name && h.code != nil &&
		uint64(len(h.code)) == s.ext && h.inferred == s.SizeInferred {
		// The other image's decoding of the symbol (the same code but
		// for displacements, mostly) brought to this image as a kept
		// decoding is: what decoding would give, without decoding.
		k.f.copyOf(h)
		k.f.discard = opts.NoNotes
		k.f.memo = scratch.memo
		ok, _ := im.r.redecode(s, &k.f, &k.patch)
		k.f.memo = nil
		if ok {
			c.paths[pathFromHint].Add(1)
			c.paths[pathRedecoded].Add(int64(len(k.patch.full)))
			c.kept1(key, k, s.SizeInferred)
			return &k.f
		}
		k.valid = false
	}
	// The previous decoding is the better hint. The whole-function
	// lookup by bytes is not used: it would lose the canonical forms a
	// hint lends, and storing every decoding costs more than it saves.
	opts.Cache = nil
	if k.valid && opts.Hint == nil {
		opts.Hint = &k.f
	}
	c.paths[pathDecoded].Add(1)
	im.Decode(s, scratch, opts)
	// The new decoding is kept: scratch's buffers become the kept
	// ones, and the kept ones scratch's, for the next decoding.
	k.f.take(scratch)
	c.kept1(key, k, s.SizeInferred)
	return &k.f
}

// kept1 records k's new decoding, of a symbol whose size was inferred
// or not, under key: valid, with a new gen, its instructions counted.
func (c *DecodeCache) kept1(key keptKey, k *keptFunc, inferred bool) {
	k.inferred = inferred
	k.valid = true
	insns := cap(k.f.raw)
	c.mu.Lock()
	c.gens++
	k.gen = c.gens
	if c.kept[key] == k { // not dropped meanwhile
		c.keptInsns += insns - k.insns
	}
	k.insns = insns
	if c.keptInsns > c.max {
		// Dropped from the map only: the caller still holds k.f.
		clear(c.kept)
		c.keptInsns = 0
	}
	c.mu.Unlock()
}

// newGen returns a new gen.
func (c *DecodeCache) newGen() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gens++
	return c.gens
}

// CompareCode is canon.CompareCode for the decodings of one symbol that
// Decode returned for sides 0 and 1 (a and b): when neither changed an
// operation or operand since their last comparison here, which found no
// difference, it is that comparison's result again without comparing;
// otherwise it compares them, and remembers a comparison without
// difference.
func (c *DecodeCache) CompareCode(a, b *Func, each func(CodeDiff)) (insns int, bytes uint64) {
	c.mu.Lock()
	ka, kb := c.kept[keptKey{side: 0, name: a.name}], c.kept[keptKey{side: 1, name: b.name}]
	c.mu.Unlock()
	if ka == nil || kb == nil || &ka.f != a || &kb.f != b {
		return CompareCode(a, b, each)
	}
	if m := ka.same; m.genA == ka.gen && m.genB == kb.gen && m.genA != 0 {
		return m.insns, m.bytes
	}
	differs := false
	insns, bytes = CompareCode(a, b, func(d CodeDiff) {
		differs = true
		each(d)
	})
	ka.same = sameCode{}
	if !differs {
		ka.same = sameCode{genA: ka.gen, genB: kb.gen, insns: insns, bytes: bytes}
	}
	return insns, bytes
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
