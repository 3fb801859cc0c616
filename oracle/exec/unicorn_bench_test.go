package exec_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/exec"
)

// BenchmarkUnicornRun is one emulated run of a small Mach-O program, as
// the Mach-O and PE fuzz targets and bench check make for their outputs.
func BenchmarkUnicornRun(b *testing.B) {
	for _, f := range []string{"macho", "elf"} {
		b.Run(f, func(b *testing.B) {
			exe := build(b, f, f+"_value")
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				res, err := runner.Run(ctx, exe, exec.Options{Mode: exec.Unicorn})
				require.NoError(b, err)
				require.Equal(b, uint64(want), res.Value)
			}
		})
	}
}
