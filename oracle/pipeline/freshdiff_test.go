package pipeline

import (
	"context"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/canon"
	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/target"
)

// TestKeptDecodingsAreDecodings: along incremental sequences, each
// function of the fresh link and of the incremental output decoded
// through a DecodeCache kept across the sequence (DecodeCache.Decode: the
// previous check's decoding brought up to date, or decoded again with it
// as the hint) is exactly the plain decoding, notes included — for every
// x86_64 format, with and without a planted defect, and with bytes of the
// output changed at random (inside calls' displacements, anywhere).
func TestKeptDecodingsAreDecodings(t *testing.T) {
	eachCorruptedVersion(t, 3, func(format obj.Format, fs fault.Set, cache *canon.DecodeCache, tg *target.Target, s *Session, incr []byte) {
		v := s.cur
		objs, err := obj.Objects(v.clean, ir.Partition(v.m, 1), 1, tg.UnitName)
		require.NoError(t, err)
		fresh, _, err := link.Link(objs, tg.Platform, link.Options{})
		require.NoError(t, err)
		// Side 1 is decoded with side 0's decoding of the same symbol
		// as its hint, as diff.Compare does.
		hints := map[string]*canon.Func{}
		for side, exe := range [][]byte{fresh, incr} {
			im, err := canon.Open(exe, objs)
			if err != nil {
				continue // a corrupted header
			}
			var scratch, plain canon.Func
			for _, sym := range im.Symbols {
				if !sym.IsCode() {
					continue
				}
				got := cache.Decode(im, sym, side, &scratch, canon.DecodeOptions{Hint: hints[sym.Name]})
				if side == 0 {
					hints[sym.Name] = got
				}
				im.Decode(sym, &plain, canon.DecodeOptions{})
				require.Equal(t, plain.Insns(), got.Insns(), "%s %v update %d side %d %s", format, fs, s.Checked, side, sym.Name)
				require.Equal(t, append([]string{}, plain.Notes()...), append([]string{}, got.Notes()...), "%s %s", format, sym.Name)
				require.Equal(t, plain.Len(), got.Len())
				require.Equal(t, plain.Padding(), got.Padding())
			}
		}
	}, func(format obj.Format, fs fault.Set, cache *canon.DecodeCache) {
		hits, misses := cache.Stats()
		require.Greater(t, hits, misses, "%s %v: the kept decodings were used", format, fs)
		t.Logf("%s %v: %d kept, %d decoded first", format, fs, hits, misses)
	})
}

// eachCorruptedVersion runs seeds incremental sequences of 12 updates of
// generated programs for every x86_64 format, without and with each of
// three planted defects, one DecodeCache per format and defect; it gives
// each update to check with a copy of the output that has, at every third
// update, a few bytes changed at random; done ends each format and defect.
func eachCorruptedVersion(t *testing.T, seeds int64, check func(format obj.Format, fs fault.Set, cache *canon.DecodeCache, tg *target.Target, s *Session, incr []byte), done func(format obj.Format, fs fault.Set, cache *canon.DecodeCache)) {
	ctx := context.Background()
	faults := []fault.Set{0, fault.Of(fault.SkipGOTRewrite), fault.Of(fault.TrampolineBase), fault.Of(fault.PCRelBias)}
	for _, format := range []obj.Format{obj.ELF, obj.MachO, obj.COFF} {
		tg, err := target.Lookup(format)
		require.NoError(t, err)
		for k, fs := range faults {
			cache := canon.NewDecodeCache(0)
			for seed := int64(1); seed <= seeds; seed++ {
				r := rand.New(rand.NewSource(seed + int64(10*k)))
				m := ir.Generate(ir.GenConfig{Seed: seed, Funcs: 30})
				s, err := NewSession(ctx, m, SessionOptions{Format: format, Tiers: Tiers{Every: 0}, Dir: t.TempDir(), Faults: fs})
				require.NoError(t, err)
				for i := 0; i < 12; i++ {
					m, _ = ir.RandomEditShared(m, r)
					if _, err := s.Update(ctx, m, false); err != nil && fs == 0 {
						require.NoError(t, err)
					}
					incr := append([]byte(nil), s.Bytes()...)
					if i%3 == 2 {
						// a few bytes changed anywhere, or in a call's
						// displacement
						for j := 0; j < 1+r.Intn(3); j++ {
							incr[r.Intn(len(incr))] ^= byte(1 + r.Intn(255))
						}
					}
					check(format, fs, cache, tg, s, incr)
				}
			}
			done(format, fs, cache)
		}
	}
}

// TestFreshDiffCachedReport: along incremental sequences, the fresh-link
// diff with a DecodeCache kept across the sequence (kept decodings, and
// comparisons of unchanged decodings not made again) reports exactly
// what it reports without one — for every x86_64 format, with and
// without a planted defect, and with bytes of the output changed at
// random.
func TestFreshDiffCachedReport(t *testing.T) {
	differing := 0
	eachCorruptedVersion(t, 2, func(format obj.Format, fs fault.Set, cache *canon.DecodeCache, tg *target.Target, s *Session, incr []byte) {
		objs, err := obj.Objects(s.cur.clean, ir.Partition(s.cur.m, 1), 1, tg.UnitName)
		require.NoError(t, err)
		fresh, _, err := link.Link(objs, tg.Platform, link.Options{})
		require.NoError(t, err)
		a, err := canon.Open(fresh, objs)
		require.NoError(t, err)
		b, err := canon.Open(incr, objs)
		if err != nil {
			return // a corrupted header
		}
		opts := diff.Options{NameA: "fresh", NameB: "incr"}
		want := diff.Compare(a, b, opts)
		opts.Cache = cache
		got := diff.Compare(a, b, opts)
		require.Equal(t, want.Text(), got.Text(), "%s %v update %d", format, fs, s.Checked)
		require.Equal(t, want.Coverage, got.Coverage)
		if !want.Equal() {
			differing++
		}
	}, func(format obj.Format, fs fault.Set, _ *canon.DecodeCache) {
		t.Logf("%s %v: %d of the diffs found differences", format, fs, differing)
		differing = 0
	})
}
