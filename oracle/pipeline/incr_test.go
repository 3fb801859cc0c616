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
)

// TestIncrementalMechanisms updates through corpus/updates/mechanisms with
// both policies and checks every invariant after every update.
func TestIncrementalMechanisms(t *testing.T) {
	tools.Require(t, "llvm-readobj")
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
				res, err := Update(out, m, string(src), policy)
				require.NoError(t, err)
				require.Equal(t, i == 1, res.Relinked, "v%d: %s", i, res.Reason)
				err = CheckIncremental(context.Background(), out, m, IncrCheck{Policy: policy, Runner: runner, Mode: exec.Native, LLVM: true, Fresh: true, Dir: dir})
				require.NoError(t, err, "v%d", i)
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
					_, err := Update(out, m, "", policy)
					require.NoError(t, err, "step %d (%s)", step, e)
					err = CheckIncremental(context.Background(), out, m, IncrCheck{Policy: policy, Runner: runner, Mode: exec.Native, Fresh: true, Dir: dir})
					require.NoError(t, err, "step %d (%s)", step, e)
				}
			})
		}
	}
}
