package coff

import (
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Link links objs into a PE32+ x86_64 executable with the reference full
// linker (package link and the Exe platform) and returns the file and its
// layout.
func Link(objs []*obj.Object, opts link.Options) ([]byte, *link.Layout, error) {
	return link.Link(objs, Exe{}, opts)
}
