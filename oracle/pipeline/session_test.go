package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/fault"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
)

func mechanisms(t *testing.T) []*ir.Module {
	t.Helper()
	vs, err := filepath.Glob("../../corpus/updates/mechanisms/v*.lir")
	require.NoError(t, err)
	sort.Strings(vs)
	var mods []*ir.Module
	for _, p := range vs {
		m, err := Load(p)
		require.NoError(t, err)
		mods = append(mods, m)
	}
	return mods
}

// TestSession runs the corpus mechanisms and a generated sequence through
// an in-memory session under both policies and both tier mixes: every
// check passes, the tiers run the dear checks where they say, the sidecar
// round trip and LLVM's tools pass at the end.
func TestSession(t *testing.T) {
	tools.Require(t, "llvm-readobj")
	runner := exec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	seqs := map[string][]*ir.Module{"mechanisms": mechanisms(t), "seq5": ir.Sequence(5, 25, 12)}
	for name, mods := range seqs {
		for _, policy := range []incr.Policy{incr.Trampoline, incr.ThroughGOT} {
			for _, tiers := range []Tiers{FullTiers, FuzzTiers} {
				t.Run(name+"/"+string(policy), func(t *testing.T) {
					ctx := context.Background()
					s, err := NewSession(ctx, mods[0], SessionOptions{Policy: policy, Runner: runner, Mode: exec.Native, Tiers: tiers, Dir: t.TempDir()})
					require.NoError(t, err)
					for k, m := range mods[1:] {
						_, err := s.Update(ctx, m, k == len(mods)-2)
						require.NoError(t, err, "v%d", k+2)
					}
					require.Equal(t, len(mods), s.Checked)
					want := len(mods)
					if tiers.Every > 1 {
						want = (len(mods) - 1) / tiers.Every // every k-th update and the last
						if (len(mods)-1)%tiers.Every != 0 {
							want++
						}
					}
					require.Equal(t, want, s.Full)
					require.NoError(t, s.CheckSidecar())
					require.NoError(t, s.CheckLLVM())
				})
			}
		}
	}
}

// TestSessionCatchesFaults: each planted defect is reported by the
// session's checks (the invariants of every update).
func TestSessionCatchesFaults(t *testing.T) {
	runner := exec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	for _, f := range fault.All() {
		if f.Scope() != "elf" {
			continue // caught by that format's own tests
		}
		t.Run(f.String(), func(t *testing.T) {
			caught := false
			seqs := [][]*ir.Module{mechanisms(t)}
			for seed := int64(1); seed <= 4; seed++ {
				seqs = append(seqs, ir.Sequence(seed, 20, 16))
			}
			for i := 0; i < 2*len(seqs) && !caught; i++ {
				policy := []incr.Policy{incr.Trampoline, incr.ThroughGOT}[i%2]
				mods := seqs[i/2]
				ctx := context.Background()
				s, err := NewSession(ctx, mods[0], SessionOptions{Policy: policy, Runner: runner, Mode: exec.Native, Tiers: FuzzTiers, Dir: t.TempDir(), Faults: fault.Of(f)})
				if err != nil {
					caught = true
					continue
				}
				for k, m := range mods[1:] {
					if _, err := s.Update(ctx, m, k == len(mods)-2); err != nil {
						t.Logf("%s: v%d: %v", policy, k+2, err)
						caught = true
						break
					}
				}
			}
			require.True(t, caught, "fault %s not caught by the corpus mechanisms or four generated sequences", f)
		})
	}
}

// TestUpdateKnown: a version's value given by the caller is what its run
// is compared with (a wrong one is reported as invariant 1), and the right
// one passes as Update does.
func TestUpdateKnown(t *testing.T) {
	runner := exec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	mods := ir.Sequence(3, 10, 2)
	ctx := context.Background()
	for _, wrong := range []bool{false, true} {
		s, err := NewSession(ctx, mods[0], SessionOptions{Runner: runner, Mode: exec.Native, Tiers: FuzzTiers, Dir: t.TempDir()})
		require.NoError(t, err)
		v, err := ir.Interp(mods[1], ir.InterpOptions{})
		require.NoError(t, err)
		if wrong {
			v++
		}
		_, err = s.UpdateKnown(ctx, mods[1], v, true)
		if !wrong {
			require.NoError(t, err)
			continue
		}
		require.ErrorContains(t, err, "invariant 1 (value)")
	}
}

// TestCheckFull: under the fuzz tiers the first link gets the cheap tier;
// a sequence without updates checks it fully with CheckFull, counted as
// one full check of the one checked link.
func TestCheckFull(t *testing.T) {
	runner := exec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	ctx := context.Background()
	mods := ir.Sequence(4, 8, 1)
	s, err := NewSession(ctx, mods[0], SessionOptions{Runner: runner, Mode: exec.Native, Tiers: FuzzTiers, Dir: t.TempDir()})
	require.NoError(t, err)
	require.Equal(t, 1, s.Checked)
	require.Zero(t, s.Full)
	require.NoError(t, s.CheckFull(ctx))
	require.Equal(t, 1, s.Checked)
	require.Equal(t, 1, s.Full)
}

// TestSameContents: the sidecar round trip's comparison of the saved
// output with the session's finds a file equal to it, and one byte
// changed, added or taken away anywhere (within and across its 32 KiB
// pieces) as different.
func TestSameContents(t *testing.T) {
	want := make([]byte, 70<<10)
	for i := range want {
		want[i] = byte(i * 7)
	}
	flip := func(i int) []byte {
		b := append([]byte{}, want...)
		b[i] ^= 1
		return b
	}
	cases := []struct {
		name string
		file []byte
		same bool
	}{
		{"equal", want, true},
		{"first byte", flip(0), false},
		{"across a piece", flip(32 << 10), false},
		{"last byte", flip(len(want) - 1), false},
		{"one more", append(append([]byte{}, want...), 0), false},
		{"one less", want[:len(want)-1], false},
		{"a piece less", want[:32<<10], false},
		{"empty", nil, false},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, "out")
			require.NoError(t, os.WriteFile(path, c.file, 0o644))
			same, err := sameContents(path, want)
			require.NoError(t, err)
			require.Equal(t, c.same, same)
		})
	}
	same, err := sameContents(filepath.Join(dir, "out"), nil) // the empty file
	require.NoError(t, err)
	require.True(t, same)
	_, err = sameContents(filepath.Join(dir, "missing"), want)
	require.Error(t, err)
}
