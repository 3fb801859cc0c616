package pipeline

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	oexec "github.com/linkcheck/linkcheck/oracle/exec"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/incr"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// everyCheckEnv makes TestIncrementalMachOLongSequenceAgainstLLD run every
// check after every update.
const everyCheckEnv = "LINKCHECK_EVERY_CHECK"

// longEnv (LINKCHECK_LONG=1, set by the nightly workflow) runs the Mach-O
// and PE sequences at the issues' full length, 50 edits on 1,000
// functions; `make test` runs 20 edits on 1,000 functions to stay within
// its time budget, and -short 200 functions.
const longEnv = "LINKCHECK_LONG"

// sequenceSize is the size of a long incremental sequence: the program's
// functions and the number of edits.
func sequenceSize(shortEdits int) (funcs, edits int) {
	switch {
	case testing.Short():
		return 200, shortEdits
	case os.Getenv(longEnv) == "1":
		return 1000, 50
	}
	return 1000, 20
}

// TestIncrementalMachOLongSequenceAgainstLLD is issue 13's end-to-end
// proof: a 1,000-function program goes through 50 random edits, each
// linked incrementally into a Mach-O output with the invariants checked
// after every update (3 to 7 and the value under unicorn; LLVM's tools and
// the fresh reference link every tenth update, or after every one with
// LINKCHECK_EVERY_CHECK=1); at the end the output's canonical image equals
// ld64.lld's link of the same version, the reference full link diffs
// clean against ld64.lld, and the output runs to the interpreter's value.
func TestIncrementalMachOLongSequenceAgainstLLD(t *testing.T) {
	tools.Require(t, "ld64.lld")
	funcs, edits := sequenceSize(20)
	every := os.Getenv(everyCheckEnv) == "1"
	runner := oexec.NewRunner()
	t.Cleanup(func() { runner.Close() })
	ctx := context.Background()
	for _, policy := range []incr.Policy{incr.Trampoline, incr.ThroughGOT} {
		t.Run(string(policy), func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			m := ir.Generate(ir.GenConfig{Seed: 13, Funcs: funcs})
			r := rand.New(rand.NewSource(13))
			var total incr.Stats
			for step := 0; step <= edits; step++ {
				var e ir.Edit
				if step > 0 {
					m, e = ir.RandomEdit(m, r)
				}
				res, err := Update(out, obj.MachO, m, "", policy)
				require.NoError(t, err, "step %d (%s)", step, e)
				require.Equal(t, step == 0, res.Relinked, "step %d: %s", step, res.Reason)
				s := res.Stats
				total.Moved += s.Moved
				total.Added += s.Added
				total.Deleted += s.Deleted
				total.InPlace += s.InPlace
				total.Trampolines += s.Trampolines
				total.GOTWrites += s.GOTWrites
				// Invariants 1 and 3 to 7 after every update; LLVM's tools
				// (8) and the fresh link (2) every tenth and at the end, or
				// after every update with LINKCHECK_EVERY_CHECK=1 (about
				// 13 minutes on the 2-core machine).
				all := every || step%10 == 0 || step == edits
				require.NoError(t, CheckIncremental(ctx, out, m, IncrCheck{Format: obj.MachO, Policy: policy, Runner: runner, Mode: oexec.Unicorn,
					LLVM: all, Fresh: all, Dir: dir}), "step %d (%s)", step, e)
			}
			t.Logf("%s: %d edits on %d functions: %+v", policy, edits, funcs, total)
			require.Positive(t, total.Moved, "the sequence should move something")

			// The final version: ld64.lld links the same objects.
			rep := requireIncrMatchesLLD(t, ctx, obj.MachO, m, policy, out, dir)
			t.Logf("%s: incremental output vs ld64.lld: %d differences, coverage %.2f%%", policy, len(rep.Differences), 100*rep.Coverage.Ratio())

			want, err := Expected(m)
			require.NoError(t, err)
			got, err := runner.Run(ctx, out, oexec.Options{Mode: oexec.Unicorn})
			require.NoError(t, err)
			require.True(t, got.Matches(want), "incremental output computed %s, the interpreter says %d", got, want)
		})
	}
}
