package canon

import (
	"errors"
	"fmt"

	"github.com/linkcheck/linkcheck/ref/obj"
)

// ErrMalformed is wrapped by every error about an executable that cannot
// be read (truncated, not of a known format or machine, offsets past the
// end, no symbol table).
var ErrMalformed = errors.New("malformed executable")

// ErrUnsupported is wrapped by the error about an executable of a known
// format that has no loader yet.
var ErrUnsupported = errors.New("unsupported format")

// A loader reads an executable of one format into the neutral file model.
// It checks the file's structure; errors wrap ErrMalformed.
type loader func(exe []byte) (*file, error)

// loaders maps each format (told by obj.DetectExecutable, the one
// detector) to its name in messages and its loader; load is nil for a
// format without a loader yet.
var loaders = map[obj.Format]struct {
	name string
	load loader
}{
	obj.ELF:   {"ELF", loadELF},
	obj.MachO: {"Mach-O", loadMachO},
	obj.COFF:  {"PE", loadPE},
	obj.Wasm:  {"Wasm", nil},
}

// Read reads a linked executable of any supported format, told by its
// magic bytes, into its canonical image; objs are the input objects it
// was linked from (see ReadELF). A file of a format without a loader yet
// (Mach-O, PE, Wasm) gets an error that names the format and wraps
// ErrUnsupported; a file of no known format one that wraps ErrMalformed.
func Read(exe []byte, objs []*obj.Object) (*Image, error) {
	f, err := load(exe)
	if err != nil {
		return nil, err
	}
	return readFile(f, objs, false)
}

// Open reads exe like Read but decodes no function: the image has every
// symbol, with final sizes and padding, data, pointers, the error table
// and the entry, but its code symbols have no Insns; Image.Decode decodes
// one into a reusable Func, and diff.Compare decodes and compares them
// one at a time, so that memory is bounded by the largest function rather
// than the program. Errors are those of Read. The image's Notes are what
// reading found outside functions (and in functions whose size was
// inferred, which Open decodes to know their size); a Func has the notes
// of its function. The image keeps exe (its sections' bytes) and objs.
func Open(exe []byte, objs []*obj.Object) (*Image, error) {
	f, err := load(exe)
	if err != nil {
		return nil, err
	}
	return readFile(f, objs, true)
}

// load tells exe's format and loads it.
func load(exe []byte) (*file, error) {
	f, err := obj.DetectExecutable(exe)
	if err != nil {
		return nil, fmt.Errorf("canon: %w: %v", ErrMalformed, err)
	}
	l, ok := loaders[f]
	if !ok || l.load == nil {
		name := l.name
		if name == "" {
			name = string(f)
		}
		return nil, fmt.Errorf("canon: %w: %s executables are not supported yet", ErrUnsupported, name)
	}
	return l.load(exe)
}
