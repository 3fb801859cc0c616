package pipeline

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// TestIncrementalMechanisms updates through corpus/updates/mechanisms with
// both policies, for every format with an incremental linker, and checks
// every invariant after every update: 3 to 7 with the format's own checks,
// LLVM's tools (8), the value (1, natively for ELF and under unicorn for
// Mach-O and PE) and a fresh reference link's canonical image (2).
func TestIncrementalMechanisms(t *testing.T) {
	for _, tc := range []struct {
		format obj.Format
		mode   exec.Mode
		tools  []string
	}{
		{obj.ELF, exec.Native, []string{"llvm-readobj"}},
		{obj.MachO, exec.Unicorn, []string{"llvm-objdump"}},
		{obj.COFF, exec.Unicorn, []string{"llvm-readobj", "llvm-objdump", "libunicorn"}},
	} {
		t.Run(string(tc.format), func(t *testing.T) {
			for _, tool := range tc.tools {
				tools.Require(t, tool)
			}
			runner := exec.NewRunner()
			t.Cleanup(func() { runner.Close() })
			for _, policy := range []incr.Policy{incr.Trampoline, incr.ThroughGOT} {
				t.Run(string(policy), func(t *testing.T) {
					dir := t.TempDir()
					out := filepath.Join(dir, "out")
					for i := 1; ; i++ {
						path := filepath.Join("../../corpus/updates/mechanisms", fmt.Sprintf("v%d.lir", i))
						src, err := os.ReadFile(path)
						if os.IsNotExist(err) {
							require.Greater(t, i, 2)
							break
						}
						m, err := ir.Parse(path, src)
						require.NoError(t, err)
						res, err := Update(out, tc.format, m, string(src), policy)
						require.NoError(t, err)
						require.Equal(t, i == 1, res.Relinked, "v%d: %s", i, res.Reason)
						err = CheckIncremental(context.Background(), out, m, IncrCheck{Format: tc.format, Policy: policy, Runner: runner, Mode: tc.mode, LLVM: true, Fresh: true, Dir: dir})
						require.NoError(t, err, "v%d", i)
					}
				})
			}
		})
	}
}

// TestIncrementalRandomSequence applies random edits to generated programs
// and checks every invariant after each update.
func TestIncrementalRandomSequence(t *testing.T) {
	runner := exec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	for _, policy := range []incr.Policy{incr.Trampoline, incr.ThroughGOT} {
		for seed := int64(1); seed <= 4; seed++ {
			t.Run(fmt.Sprintf("%s/seed=%d", policy, seed), func(t *testing.T) {
				dir := t.TempDir()
				out := filepath.Join(dir, "out")
				m := ir.Generate(ir.GenConfig{Seed: seed, Funcs: 12})
				r := rand.New(rand.NewSource(seed))
				for step := 0; step < 15; step++ {
					var e ir.Edit
					if step > 0 {
						m, e = ir.RandomEdit(m, r)
					}
					_, err := Update(out, obj.ELF, m, "", policy)
					require.NoError(t, err, "step %d (%s)", step, e)
					err = CheckIncremental(context.Background(), out, m, IncrCheck{Policy: policy, Runner: runner, Mode: exec.Native, Fresh: true, Dir: dir})
					require.NoError(t, err, "step %d (%s)", step, e)
				}
			})
		}
	}
}

// TestIncrementalLongSequenceAgainstLLD is issue 7's end-to-end proof: a
// 1,000-function program goes through 50 random edits, each linked
// incrementally (invariants 3-7 and the value checked after every update);
// at the end the incremental output's canonical image equals ld.lld's link
// of the same version, the reference link diffs clean against ld.lld, and
// the output runs to the interpreter's value.
func TestIncrementalLongSequenceAgainstLLD(t *testing.T) {
	tools.Require(t, "ld.lld")
	funcs, edits := 1000, 50
	if testing.Short() {
		funcs, edits = 200, 20
	}
	runner := exec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	ctx := context.Background()
	for _, policy := range []incr.Policy{incr.Trampoline, incr.ThroughGOT} {
		t.Run(string(policy), func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			m := ir.Generate(ir.GenConfig{Seed: 7, Funcs: funcs})
			r := rand.New(rand.NewSource(7))
			moved := 0
			for step := 0; step <= edits; step++ {
				var e ir.Edit
				if step > 0 {
					m, e = ir.RandomEdit(m, r)
				}
				res, err := Update(out, obj.ELF, m, "", policy)
				require.NoError(t, err, "step %d (%s)", step, e)
				moved += res.Stats.Moved
				require.NoError(t, CheckIncremental(ctx, out, m, IncrCheck{Policy: policy, Runner: runner, Mode: exec.Native}), "step %d (%s)", step, e)
			}
			require.Positive(t, moved, "the sequence should move something")

			// The final version: ld.lld links the same objects.
			requireIncrMatchesLLD(t, ctx, obj.ELF, m, policy, out, dir)

			want, err := Expected(m)
			require.NoError(t, err)
			got, err := runner.Run(ctx, out, exec.Options{Mode: exec.Native})
			require.NoError(t, err)
			require.True(t, got.Matches(want), "incremental output computed %s, the interpreter says %d", got, want)
		})
	}
}
