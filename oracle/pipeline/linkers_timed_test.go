package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/diff"
	"github.com/linkcheck/linkcheck/oracle/linker"
	"github.com/linkcheck/linkcheck/ref/ir"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// TestDiffLinkersTimedSteps: the steps are reported in order on the
// calling goroutine, the objects read side by side with the links are in
// the result, and when links fail the error is the one a run of the steps
// one after the other gives (A's link before B's), though both ran.
func TestDiffLinkersTimedSteps(t *testing.T) {
	lldL := requireLinker(t, linker.LLD)
	refL := requireLinker(t, linker.Ref)
	dir := t.TempDir()
	objs, err := BuildDir(ir.Generate(ir.GenConfig{Seed: 3, Funcs: 40}), obj.ELF, 3, filepath.Join(dir, "obj"))
	require.NoError(t, err)

	var steps []DiffPhase
	res, err := DiffLinkersTimed(context.Background(), obj.ELF, lldL, refL, objs, t.TempDir(), diff.Options{}, linker.Options{}, func(p DiffPhase) {
		steps = append(steps, p)
	})
	require.NoError(t, err)
	require.Equal(t, []DiffPhase{PhaseLinkB, PhaseRead, PhaseWaitA, PhaseOpen, PhaseCompare}, steps)
	require.True(t, res.Report.Equal(), "%s", res.Report.Text())
	require.Len(t, res.Objects, 3)
	require.Positive(t, res.ReadDuration)
	require.NotNil(t, res.ResA)
	require.NotNil(t, res.ResB)

	// Both sides fail: A's failure is the one reported; B ran (its
	// command left its mark).
	mark := filepath.Join(t.TempDir(), "b-ran")
	failA, err := linker.Lookup("cmd:false {out} {objs}")
	require.NoError(t, err)
	failB, err := linker.Lookup("cmd:sh -c 'touch " + mark + "; exit 1' {out} {objs}")
	require.NoError(t, err)
	_, err = DiffLinkersTimed(context.Background(), obj.ELF, failA, failB, objs, t.TempDir(), diff.Options{}, linker.Options{}, nil)
	var le *LinkerError
	require.True(t, errors.As(err, &le), "%v", err)
	require.Equal(t, failA.Name, le.Linker)
	require.Contains(t, err.Error(), "false")
	_, statErr := os.Stat(mark)
	require.NoError(t, statErr, "B's link did not run")

	// A read error comes first, before any link's.
	bad := filepath.Join(t.TempDir(), "bad.o")
	require.NoError(t, os.WriteFile(bad, []byte("not an object"), 0o644))
	_, err = DiffLinkersTimed(context.Background(), obj.ELF, failA, failB, []string{bad}, t.TempDir(), diff.Options{}, linker.Options{}, nil)
	require.Error(t, err)
	require.False(t, errors.As(err, &le), "want the read error, got a link error: %v", err)
	require.Contains(t, err.Error(), "bad.o")
}
