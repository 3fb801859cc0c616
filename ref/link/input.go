package link

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/linkcheck/linkcheck/ref/input"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// ReadObjectFiles reads the relocatable objects at paths with a format's
// reader (each named by its path in messages), in parallel (GOMAXPROCS
// readers); the result is in path order, and the error is the first in
// path order.
func ReadObjectFiles(paths []string, read func(name string, data []byte) (*obj.Object, error)) ([]*obj.Object, error) {
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
				data, err := input.ReadFile(paths[i], input.MaxObject)
				if err == nil {
					objs[i], err = read(paths[i], data)
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
