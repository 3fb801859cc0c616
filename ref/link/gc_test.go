package link

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOneShotLimit(t *testing.T) {
	for _, tc := range []struct{ in, want int64 }{
		{0, 512 << 20},
		{48 << 20, 8*(48<<20) + 512<<20},
		{-1, math.MaxInt64},
		{math.MaxInt64 / 4, math.MaxInt64},
	} {
		require.Equal(t, tc.want, oneShotLimit(tc.in), "in=%d", tc.in)
	}
}

// TestOneShotGC: the collector is off below the limit while the link
// runs, and restore puts the previous settings back.
func TestOneShotGC(t *testing.T) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOGC or GOMEMLIMIT set: OneShotGC keeps them")
	}
	p := filepath.Join(t.TempDir(), "a.o")
	require.NoError(t, os.WriteFile(p, make([]byte, 1000), 0o644))
	percent := debug.SetGCPercent(100)
	defer debug.SetGCPercent(percent)
	restore := OneShotGC([]string{p, filepath.Join(t.TempDir(), "missing.o")})
	require.Equal(t, int64(8*1000+512<<20), debug.SetMemoryLimit(-1))
	require.Equal(t, -1, debug.SetGCPercent(-1))
	restore()
	require.Equal(t, 100, debug.SetGCPercent(100))
	require.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1))
}
