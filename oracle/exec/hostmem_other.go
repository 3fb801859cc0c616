//go:build !linux

package exec

import (
	"fmt"
	"runtime"
)

func hostAlloc(size uint64) ([]byte, error) {
	return nil, fmt.Errorf("unicorn runs are not supported on %s: they map host memory the Linux way", runtime.GOOS)
}

func hostFree([]byte) {}

func hostZero(b []byte) { clear(b) }
