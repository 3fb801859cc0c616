package fault

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCatalogue(t *testing.T) {
	require.Len(t, All(), int(numFaults)-1)
	for _, f := range All() {
		g, err := Parse(f.String())
		require.NoError(t, err)
		require.Equal(t, f, g)
		require.True(t, Of(f).Has(f))
		require.False(t, Set(0).Has(f))
	}
	_, err := Parse("no-such-fault")
	require.ErrorContains(t, err, `unknown fault "no-such-fault"`)
	require.Equal(t, "seed-errtab,stale-symbols", Of(StaleSymbols, SeedErrTab).String())
}
