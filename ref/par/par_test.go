package par_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/par"
)

func TestEach(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 1000} {
		out := make([]int, n)
		require.NoError(t, par.Each(n, func(i int) error { out[i] = i * i; return nil }))
		for i, v := range out {
			require.Equal(t, i*i, v)
		}
	}
	// The first failing index's error, whatever the order they ran in.
	for range 20 {
		err := par.Each(100, func(i int) error {
			if i%10 == 3 {
				return fmt.Errorf("task %d", i)
			}
			return nil
		})
		require.EqualError(t, err, "task 3")
	}
}
