package elf

import (
	"github.com/linkcheck/linkcheck/ref/link"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Link links objs into a static ELF64 x86_64 executable with the reference
// full linker (package link and the Exe platform) and returns the file and
// its layout.
func Link(objs []*obj.Object, opts link.Options) ([]byte, *link.Layout, error) {
	return link.Link(objs, Exe{}, opts)
}

// LinkFiles reads the ELF relocatable objects and static archives at
// paths with ReadInputs (each named by its path in messages; archive
// members extracted lazily in ld.lld's order) and links them with Link;
// objects alone are read and linked by link.LinkFiles, which resolves
// their symbols while they are read.
func LinkFiles(paths []string, opts link.Options) ([]byte, *link.Layout, error) {
	if !AnyArchive(paths) {
		return link.LinkFiles(paths, ReadObject, Exe{}, opts)
	}
	objs, err := ReadInputs(paths)
	if err != nil {
		return nil, nil, err
	}
	return Link(objs, opts)
}

// ReadObjectFiles reads the ELF relocatable objects at paths with
// ReadObject, in parallel (link.ReadObjectFiles).
func ReadObjectFiles(paths []string) ([]*obj.Object, error) {
	return link.ReadObjectFiles(paths, ReadObject)
}
