package fault

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCatalogue(t *testing.T) {
	require.Len(t, All(), int(numFaults)-1)
	require.GreaterOrEqual(t, len(All()), 20, "the catalogue has at least 20 defects")
	keep := 0
	for _, f := range All() {
		if f.KeepsValues() {
			keep++
		}
	}
	require.GreaterOrEqual(t, 3*keep, len(All()), "at least a third keep every value right")
	for _, f := range All() {
		g, err := Parse(f.String())
		require.NoError(t, err)
		require.Equal(t, f, g)
		require.True(t, Of(f).Has(f))
		require.False(t, Set(0).Has(f))
		require.NotEmpty(t, f.Description(), f.String())
	}
	_, err := Parse("no-such-fault")
	require.ErrorContains(t, err, `unknown fault "no-such-fault"`)
	require.Equal(t, "seed-errtab,stale-symbols", Of(StaleSymbols, SeedErrTab).String())
}
