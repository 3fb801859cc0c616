package ir

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var updateEditGolden = flag.Bool("update-edit-golden", false, "rewrite testdata/edits.golden")

// editSequenceDigest is the SHA-256 of every edit and every printed
// version of a sequence of RandomEditShared edits from Generate(seed,
// funcs), drawn from rand.NewSource(seed) as the checked update loop
// draws them.
func editSequenceDigest(seed int64, funcs, edits int) string {
	m := Generate(GenConfig{Seed: seed, Funcs: funcs})
	r := rand.New(rand.NewSource(seed))
	h := sha256.New()
	h.Write(Print(m))
	for range edits {
		var e Edit
		m, e = RandomEditShared(m, r)
		fmt.Fprintf(h, "%s\n", e)
		h.Write(Print(m))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestEditSequencesGolden pins the edit generator's output: for 30 seeds
// × 3 sizes, 40 edits each, the edits and the printed versions hash to
// what testdata/edits.golden holds (written by the generator before the
// analysis of a module was cached between edits). Same seed, same edit
// sequence, byte for byte.
func TestEditSequencesGolden(t *testing.T) {
	var got strings.Builder
	for _, funcs := range []int{5, 40, 150} {
		for seed := int64(1); seed <= 30; seed++ {
			fmt.Fprintf(&got, "funcs %d seed %d %s\n", funcs, seed, editSequenceDigest(seed, funcs, 40))
		}
	}
	const path = "testdata/edits.golden"
	if *updateEditGolden {
		require.NoError(t, os.WriteFile(path, []byte(got.String()), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), got.String())
}

// TestEditorEqualsRandomEditShared: an Editor, which keeps the facts of
// the functions it has seen, draws the same edits and the same versions
// as RandomEditShared (which walks every function at every edit) from the
// same seed, byte for byte; one Editor serves every sequence, so that it
// also forgets the functions of the earlier ones.
func TestEditorEqualsRandomEditShared(t *testing.T) {
	var ed Editor
	for _, funcs := range []int{1, 5, 40, 150} {
		for seed := int64(1); seed <= 25; seed++ {
			m := Generate(GenConfig{Seed: seed, Funcs: funcs})
			want, got := m, m
			rw, rg := rand.New(rand.NewSource(seed)), rand.New(rand.NewSource(seed))
			for i := range 60 {
				var ew, eg Edit
				want, ew = RandomEditShared(want, rw)
				got, eg = ed.RandomEditShared(got, rg)
				require.Equal(t, ew, eg, "funcs %d seed %d edit %d", funcs, seed, i+1)
				require.Equal(t, string(Print(want)), string(Print(got)), "funcs %d seed %d edit %d: %s", funcs, seed, i+1, ew)
			}
		}
	}
	require.LessOrEqual(t, len(ed.known), 2*400+64, "the editor forgets the functions of earlier versions")
}
