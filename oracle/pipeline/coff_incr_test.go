package pipeline

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/diff"
	oexec "github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/coff"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// TestCOFFIncrementalLongSequenceAgainstLLD is issue 14's proof for
// incremental PE: a 1,000-function program goes through 50 random edits
// under each policy, each linked incrementally, and after every update
// every invariant is checked — 3 to 7 with the PE checks (section table,
// SizeOfImage, base relocations), the value under unicorn (1), LLVM's
// tools without a warning (8) and the canonical image against a fresh
// reference link (2). At the end the incremental output's canonical image
// equals lld-link's link of the same version (no ignore rule, coverage
// above 99%), the reference link diffs clean against lld-link too, and the
// output runs to the interpreter's value under unicorn and wine.
func TestCOFFIncrementalLongSequenceAgainstLLD(t *testing.T) {
	tools.Require(t, "lld-link")
	tools.Require(t, "libunicorn")
	tools.Require(t, "llvm-readobj")
	funcs, edits := 1000, 50
	if testing.Short() {
		funcs, edits = 200, 10
	}
	runner := oexec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	ctx := context.Background()
	for _, policy := range []incr.Policy{incr.Trampoline, incr.ThroughGOT} {
		t.Run(string(policy), func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.exe")
			m := ir.Generate(ir.GenConfig{Seed: 14, Funcs: funcs})
			r := rand.New(rand.NewSource(14))
			var moved, grown, pointerMoves int
			for step := 0; step <= edits; step++ {
				var e ir.Edit
				if step > 0 {
					m, e = ir.RandomEdit(m, r)
				}
				before, _ := os.Stat(out)
				res, err := Update(out, obj.COFF, m, "", policy)
				require.NoError(t, err, "step %d (%s)", step, e)
				require.Equal(t, step == 0, res.Relinked, "step %d: %s", step, res.Reason)
				moved += res.Stats.Moved
				pointerMoves += res.Stats.Repatched
				if after, _ := os.Stat(out); before != nil && after.Size() != before.Size() {
					grown++
				}
				require.NoError(t, CheckIncremental(ctx, out, m, IncrCheck{Format: obj.COFF, Policy: policy, Runner: runner, Mode: oexec.Unicorn,
					LLVM: true, Fresh: true, Dir: dir}), "step %d (%s)", step, e)
			}
			t.Logf("%d updates: %d moves, %d re-patched fields, the file changed size %d times", edits, moved, pointerMoves, grown)
			require.Positive(t, moved, "the sequence should move something")

			// The final version: lld-link links the same object.
			p, err := CompileIncr(m, obj.COFF, policy, 0)
			require.NoError(t, err)
			objs, err := obj.Objects(p, ir.Partition(m, 1), 1, func(int) string { return "u0.obj" })
			require.NoError(t, err)
			b, err := coff.WriteObject(objs[0])
			require.NoError(t, err)
			objPath := filepath.Join(dir, "u0.obj")
			require.NoError(t, os.WriteFile(objPath, b, 0o644))
			lldExe := filepath.Join(dir, "lld.exe")
			_, err = LinkLLD(ctx, obj.COFF, []string{objPath}, lldExe)
			require.NoError(t, err)
			lldImg, err := readImage(lldExe, objs)
			require.NoError(t, err)
			incrImg, err := readImage(out, objs)
			require.NoError(t, err)
			rep := diff.Compare(lldImg, incrImg, diff.Options{NameA: "lld-link", NameB: "incr"})
			require.True(t, rep.Equal(), "%s", rep.Text())
			require.Greater(t, rep.Coverage.Ratio(), 0.99, "%s", rep.Text())
			t.Logf("incremental output against lld-link: coverage %.1f%%", 100*rep.Coverage.Ratio())

			dr, err := DiffLLD(ctx, obj.COFF, []string{objPath}, dir, diff.Options{})
			require.NoError(t, err)
			require.True(t, dr.Report.Equal(), "%s", dr.Report.Text())

			want, err := Expected(m)
			require.NoError(t, err)
			modes := []oexec.Mode{oexec.Unicorn}
			if haveTool("wine64") {
				modes = append(modes, oexec.Wine)
			}
			for _, mode := range modes {
				got, err := runner.Run(ctx, out, oexec.Options{Mode: mode})
				require.NoError(t, err, "%s", mode)
				require.True(t, got.Matches(want), "%s: incremental output computed %s, the interpreter says %d", mode, got, want)
			}
		})
	}
}
