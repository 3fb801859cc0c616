package macho

import (
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Link links objs into a Mach-O x86_64 executable with the reference full
// linker (package link and the Exe platform) and returns the file and its
// layout.
func Link(objs []*obj.Object, opts link.Options) ([]byte, *link.Layout, error) {
	return link.Link(objs, Exe{}, opts)
}

// LinkFiles reads the Mach-O relocatable objects at paths with ReadObject
// (each named by its path in messages), in parallel, and links them with
// Link.
func LinkFiles(paths []string, opts link.Options) ([]byte, *link.Layout, error) {
	objs, err := link.ReadObjectFiles(paths, ReadObject)
	if err != nil {
		return nil, nil, err
	}
	return Link(objs, opts)
}
