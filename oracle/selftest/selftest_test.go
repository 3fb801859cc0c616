package selftest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/fault"
)

func TestClassify(t *testing.T) {
	tests := []struct{ out, check string }{
		{"--- FAIL: FuzzGOT (0.1s)\n    x: after update 3: invariant 3 (GOT slot): f at 0x1: GOT slot holds 0x0", "invariant 3 (GOT slot)"},
		{"--- FAIL: FuzzX\n  diff: text.operand main+0x3: call f / call g", "diff text.operand"},
		{"--- FAIL: FuzzX\n  sidecar: the reloaded state differs", "sidecar round trip"},
		{"--- FAIL: FuzzRefLinker\n  its loaded image is not ld.lld's byte for byte: image.loaded: segment 2 (PF_X+PF_R) differs", "loaded bytes (image.loaded)"},
		{"--- FAIL: FuzzX\n  panic: boom", "other"},
	}
	for _, tt := range tests {
		check, _ := classify(tt.out)
		require.Equal(t, tt.check, check)
	}
	require.Equal(t, "FuzzGOT", failedTarget(tests[0].out))
	require.Equal(t, LinkTargets, TargetsOf(fault.LinkLocalAsGlobal))
	require.Equal(t, Targets, TargetsOf(fault.TrampolineBase))
}

func TestSummarize(t *testing.T) {
	s := Summarize([]Result{
		{Fault: fault.StaleSymbols, Caught: true, Elapsed: 2 * time.Second, Check: "invariant 6 (symbol)"},
		{Fault: fault.TrampolineBase, Caught: true, Elapsed: time.Second, Check: "invariant 4 (trampoline)"},
		{Fault: fault.SkipGOTRewrite},
	})
	require.Equal(t, 2, s.Caught)
	require.Equal(t, 3, s.Total)
	require.Equal(t, []fault.Fault{fault.SkipGOTRewrite}, s.Missed)
	require.Equal(t, 2*time.Second, s.Max)
	require.Equal(t, 1, s.KeepValuesCaught)
}

// TestRunCatchesOne runs the real fuzz targets with one defect planted,
// through go test and through a campaign with two jobs (ViaCampaign): it
// must be caught, by the trampoline invariant.
func TestRunCatchesOne(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on the fuzz targets")
	}
	tools.Require(t, "llvm-readobj")
	wd, err := os.Getwd()
	require.NoError(t, err)
	root, err := FindRoot(wd)
	require.NoError(t, err)
	for _, via := range []bool{false, true} {
		res, err := Run(context.Background(), Config{Root: root, Defects: []fault.Fault{fault.TrampolineBase}, PerDefect: 60 * time.Second,
			ViaCampaign: via, Jobs: 2})
		require.NoError(t, err)
		require.Len(t, res, 1)
		require.True(t, res[0].Caught, "via campaign %v: %+v", via, res[0])
		require.Equal(t, "invariant 4 (trampoline)", res[0].Check, "via campaign %v", via)
		t.Logf("via campaign %v: caught by %s (%s) in %s", via, res[0].Target, res[0].Phase, res[0].Elapsed)
	}
	_, err = FindRoot("/")
	require.ErrorContains(t, err, "no linkcheck source tree")
}
