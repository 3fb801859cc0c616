//go:build unix

package input

import (
	"fmt"
	"os"
	"syscall"
)

// mapFile maps the first size bytes of f read-only (private, prefaulted).
func mapFile(f *os.File, size int64) ([]byte, func(), error) {
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_PRIVATE|syscall.MAP_POPULATE)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: mmap: %w", f.Name(), err)
	}
	return data, func() { _ = syscall.Munmap(data) }, nil
}
