package exec_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/exec"
)

// BenchmarkNativeRun is one native run of a small static program, the run
// the pipeline and the fuzz targets make for every generated executable:
// start, limits, containment, wait and the value read back.
func BenchmarkNativeRun(b *testing.B) {
	benchRun(b, build(b, "elf", "elf_value"), exec.Native)
}

// benchRun runs exe in mode once per op.
func benchRun(b *testing.B, exe string, mode exec.Mode) {
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		res, err := runner.Run(ctx, exe, exec.Options{Mode: mode})
		require.NoError(b, err)
		require.Equal(b, uint64(want), res.Value)
	}
}
