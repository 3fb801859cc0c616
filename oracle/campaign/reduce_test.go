package campaign

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/fuzz"
	"github.com/linkcheck/linkcheck/oracle/tools"
)

// TestReduceToRegression reduces the findings of a 2-minute campaign
// (testdata/reduce/TARGET_DEFECT[_MECHANISM]: FuzzTrampoline with
// free-trampoline-site planted; sequences of 16 edits) and requires for
// each a scenario of at most 3 functions and 3 updates (8 for one whose
// mechanism needs them), with the same
// signature, that fails with the defect through the file-based `linkcheck
// update` path and passes without it.
func TestReduceToRegression(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the fuzz package and replays about a hundred sequences")
	}
	tools.Require(t, "llvm-readobj")
	tools.Require(t, "llvm-objdump")
	root, err := FindModule("", "")
	require.NoError(t, err)
	bin := filepath.Join(t.TempDir(), "fuzz.test")
	build := exec.Command("go", "test", "-c", "-o", bin, "./fuzz")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	for _, tt := range []struct {
		file           string
		funcs, updates int
	}{
		{"FuzzTrampoline_free-trampoline-site", 3, 3},
		// With "grow" as the failing update's mechanism, the freed site must
		// first be made and then reused by growing: 7 updates here.
		{"FuzzTrampoline_free-trampoline-site_grow", 3, 8},
	} {
		t.Run(tt.file, func(t *testing.T) { reduceFile(t, root, bin, tt.file, tt.funcs, tt.updates) })
	}
}

func reduceFile(t *testing.T, root, bin, file string, maxFuncs, maxUpdates int) {
	target, defect, _ := strings.Cut(file, "_")
	defect, _, _ = strings.Cut(defect, "_")
	data, err := os.ReadFile(filepath.Join("testdata", "reduce", file))
	require.NoError(t, err)
	input, err := ParseCorpusFile(data)
	require.NoError(t, err)
	r := &replayer{binary: bin, src: root, faults: defect, dir: t.TempDir()}
	orig, err := r.run(context.Background(), target, input, "")
	require.NoError(t, err)
	require.NotEmpty(t, orig.Error, "the input does not fail with %s planted", defect)
	sig := ParseSignature(orig.Error)
	t.Logf("original: %d edits, %d versions; %s", len(fuzz.DecodeIncr(input).Edits), len(orig.Versions), sig)

	// The reduction ends at its fixed point; the budget only bounds a
	// runaway one. It is not a timing assertion: under load (a shared CI
	// machine) a try takes several times as long, and a short budget would
	// stop the reduction early and fail the size bounds.
	red, rep, err := Reduce(context.Background(), r, target, input, sig, 20*time.Minute)
	require.NoError(t, err)
	t.Logf("reduced in %d tries: %d functions, %d updates", red.Tries, red.Funcs, red.Updates)
	require.LessOrEqual(t, red.Funcs, maxFuncs)
	require.LessOrEqual(t, red.Updates, maxUpdates)
	require.Less(t, red.Updates, len(orig.Versions)-1)
	require.Equal(t, sig.String(), ParseSignature(red.Message).String())

	with := ReplayScenario(context.Background(), rep.Versions, rep.Policy, defect)
	require.Error(t, with, "the reduced scenario passes with %s planted", defect)
	require.Contains(t, with.Error(), sig.Check)
	require.NoError(t, ReplayScenario(context.Background(), rep.Versions, rep.Policy, ""), "the reduced scenario fails on the correct linker")

	f := &Finding{ID: target + "-x", Target: target, Name: "x", Faults: defect, Signature: &sig}
	f.Reproduce = reproduceCommand(f)
	text := Scenario(f, red, rep)
	require.Contains(t, text, "# fault: "+defect)
	require.Equal(t, red.Updates+1, strings.Count(text, "exec linkcheck update -format elf -policy trampoline"))
}
