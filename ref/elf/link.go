package elf

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Link links objs into a static ELF64 x86_64 executable with the reference
// full linker (package link and the Exe platform) and returns the file and
// its layout.
func Link(objs []*obj.Object, opts link.Options) ([]byte, *link.Layout, error) {
	return link.Link(objs, Exe{}, opts)
}

// LinkFiles reads the ELF relocatable objects at paths with ReadObject
// (each named by its path in messages) and links them with Link.
func LinkFiles(paths []string, opts link.Options) ([]byte, *link.Layout, error) {
	objs, err := ReadObjectFiles(paths)
	if err != nil {
		return nil, nil, err
	}
	return Link(objs, opts)
}

// ReadObjectFiles reads the ELF relocatable objects at paths, in parallel
// (GOMAXPROCS readers); the result is in path order, and the error is the
// first in path order.
func ReadObjectFiles(paths []string) ([]*obj.Object, error) {
	objs := make([]*obj.Object, len(paths))
	errs := make([]error, len(paths))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(paths)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(paths) {
					return
				}
				data, err := os.ReadFile(paths[i])
				if err == nil {
					objs[i], err = ReadObject(paths[i], data)
				}
				errs[i] = err
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("link: %w", err)
		}
	}
	return objs, nil
}
