package link

import (
	"fmt"
	"slices"

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

// LinkFiles reads the relocatable objects at paths as ReadObjectFiles does
// and links them for p as Link does, with the same result, but resolves
// the symbols of each object, in input order, while the later ones are
// still read: the symbol table is built on another goroutine beside the
// readers instead of after them, and the input sections are placed in
// their output sections while it is finished. (When COMDAT groups or
// common symbols change an object, the table is built again after the
// reads.)
func LinkFiles(paths []string, read func(name string, data []byte) (*obj.Object, error), p Platform, opts Options) ([]byte, *Layout, error) {
	objs := make([]*obj.Object, len(paths))
	done := make([]chan struct{}, len(paths))
	for i := range done {
		done[i] = make(chan struct{})
	}
	valid := make([]bool, len(paths))
	plains := make([]bool, len(paths))
	pre := make(chan *resolver, 1)
	go func() { pre <- resolveAsRead(objs, valid, done) }()
	err := par.Each(len(paths), func(i int) error {
		defer close(done[i])
		return input.WithFile(paths[i], input.MaxObject, func(data []byte) error {
			o, err := read(paths[i], data)
			objs[i] = o
			// Checked here, by the readers, as resolve checks every object.
			valid[i] = err == nil && o != nil && o.Validate() == nil
			plains[i] = valid[i] && plain(o)
			return err
		})
	})
	if err != nil {
		<-pre
		return nil, nil, fmt.Errorf("link: %w", err)
	}
	return buildAndWrite(objs, p, opts, &pending{plain: !slices.Contains(plains, false), wait: func() *resolver { return <-pre }})
}

// resolveAsRead adds objs[i] to a symbol table once done[i] is closed, in
// order, and returns the table; it stops at an object that is missing (its
// read failed) or not valid (valid[i]), which build then sees as a table
// that does not hold. Its sizes are guessed from the first object, as if
// every object were like it.
func resolveAsRead(objs []*obj.Object, valid []bool, done []chan struct{}) *resolver {
	l := &Layout{Objects: objs}
	var r *resolver
	for i := range objs {
		<-done[i]
		o := objs[i]
		if !valid[i] {
			break
		}
		if r == nil {
			defined := 0
			for _, s := range o.Symbols {
				if s.Bind != obj.Local && s.Defined() {
					defined++
				}
			}
			r = newResolver(l, len(o.Symbols)*len(objs), defined*len(objs))
		}
		r.add(i, make([]int32, len(o.Symbols)))
	}
	// The readers are done with objs: wait for all of them, so that the
	// table is handed over only when nothing else writes.
	for i := range done {
		<-done[i]
	}
	return r
}

// holds reports whether the table was built from exactly objs, every one
// of them.
func (r *resolver) holds(objs []*obj.Object) bool {
	if r == nil || r.objects != len(objs) || len(r.l.Objects) != len(objs) {
		return false
	}
	for i, o := range objs {
		if r.l.Objects[i] != o {
			return false
		}
	}
	return true
}
