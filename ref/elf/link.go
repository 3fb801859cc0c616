package elf

import (
	"fmt"
	"os"

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

// ReadObjectFiles reads the ELF relocatable objects at paths.
func ReadObjectFiles(paths []string) ([]*obj.Object, error) {
	objs := make([]*obj.Object, len(paths))
	for i, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("link: %w", err)
		}
		o, err := ReadObject(p, data)
		if err != nil {
			return nil, fmt.Errorf("link: %w", err)
		}
		objs[i] = o
	}
	return objs, nil
}
