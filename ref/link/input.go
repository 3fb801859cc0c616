package link

import (
	"fmt"
	"github.com/linkcheck/linkcheck/ref/input"
	"github.com/linkcheck/linkcheck/ref/obj"
	"github.com/linkcheck/linkcheck/ref/par"
)

// ReadObjectFiles reads the relocatable objects at paths with a format's
// reader (each named by its path in messages), in parallel (GOMAXPROCS
// readers); the result is in path order, and the error is the first in
// path order. read is given the file mapped (input.WithFile): the object
// it returns must not refer to data, which every format's reader copies
// from.
func ReadObjectFiles(paths []string, read func(name string, data []byte) (*obj.Object, error)) ([]*obj.Object, error) {
	objs := make([]*obj.Object, len(paths))
	if err := par.Each(len(paths), func(i int) error {
		return input.WithFile(paths[i], input.MaxObject, func(data []byte) error {
			o, err := read(paths[i], data)
			objs[i] = o
			return err
		})
	}); err != nil {
		return nil, fmt.Errorf("link: %w", err)
	}
	return objs, nil
}
