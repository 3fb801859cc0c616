package canon

import (
	"bytes"
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

// formats are the executable formats Read recognizes, by the magic bytes
// at the start of the file; load is nil for a format without a loader yet.
var formats = []struct {
	name   string
	magics [][]byte
	load   loader
}{
	{"ELF", [][]byte{[]byte("\x7fELF")}, loadELF},
	{"Mach-O", [][]byte{
		{0xcf, 0xfa, 0xed, 0xfe}, {0xce, 0xfa, 0xed, 0xfe}, // 64- and 32-bit, little-endian
		{0xfe, 0xed, 0xfa, 0xcf}, {0xfe, 0xed, 0xfa, 0xce}, // big-endian
		{0xca, 0xfe, 0xba, 0xbe}, // universal
	}, nil},
	{"PE", [][]byte{[]byte("MZ")}, nil},
	{"Wasm", [][]byte{[]byte("\x00asm")}, nil},
}

// Read reads a linked executable of any supported format, told by its
// magic bytes, into its canonical image; objs are the input objects it
// was linked from (see ReadELF). A file of a format without a loader yet
// (Mach-O, PE, Wasm) gets an error that names the format and wraps
// ErrUnsupported; a file of no known format one that wraps ErrMalformed.
func Read(exe []byte, objs []*obj.Object) (*Image, error) {
	for _, ft := range formats {
		for _, m := range ft.magics {
			if !bytes.HasPrefix(exe, m) {
				continue
			}
			if ft.load == nil {
				return nil, fmt.Errorf("canon: %w: %s executables are not supported yet", ErrUnsupported, ft.name)
			}
			f, err := ft.load(exe)
			if err != nil {
				return nil, err
			}
			return readFile(f, objs)
		}
	}
	return nil, fmt.Errorf("canon: %w: not an executable of a known format (starts with % x)", ErrMalformed, exe[:min(len(exe), 4)])
}
