package exec

import (
	"fmt"
	"syscall"
)

// hostAlloc returns size bytes of zeroed, page-aligned memory outside Go's
// heap, for an emulator to map as guest memory. Pages are made on first
// touch, so a large mostly-untouched region (the stack) costs little.
func hostAlloc(size uint64) ([]byte, error) {
	if size == 0 || size > MaxImageMemory+StackSize {
		return nil, fmt.Errorf("host memory of %d bytes: out of range", size)
	}
	b, err := syscall.Mmap(-1, 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("host memory of %d bytes: %w", size, err)
	}
	return b, nil
}

// hostFree releases memory from hostAlloc.
func hostFree(b []byte) { _ = syscall.Munmap(b) }

// hostZero makes b (from hostAlloc) read as zeros again. The kernel drops
// the touched pages (madvise MADV_DONTNEED on private anonymous memory), so
// the cost is that of the pages the program used, not of the range.
func hostZero(b []byte) {
	if err := syscall.Madvise(b, syscall.MADV_DONTNEED); err != nil {
		clear(b)
	}
}
