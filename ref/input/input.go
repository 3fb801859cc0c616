// Package input reads the files linkcheck is given — programs, objects,
// executables, sidecars — with the care untrusted input needs: only
// regular files (a FIFO would hang the read, a device like /dev/zero would
// never end), and never more than a bound that the kind of file allows,
// checked before anything is allocated and enforced while reading (the
// file may grow under us).
package input

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// Bounds of the files linkcheck reads.
const (
	// MaxProgram bounds a .lir program.
	MaxProgram = 256 << 20
	// MaxObject bounds a relocatable object or an executable.
	MaxObject = 1 << 30
)

// ReadFile reads the regular file at path, of at most limit bytes.
func ReadFile(path string, limit int64) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO must not wait for a writer; the mode
	// check below then refuses it. (It changes nothing for regular files.)
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d this kind of file may have", path, fi.Size(), limit)
	}
	data, err := readAll(io.LimitReader(f, limit+1), fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: grew past %d bytes while it was read", path, limit)
	}
	return data, nil
}

// readAll reads r to its end into one buffer sized for the size the file
// had when it was opened (plus one byte, so that the read that sees the
// end needs no second buffer); it grows only if the file grew.
func readAll(r io.Reader, size int64) ([]byte, error) {
	data := make([]byte, 0, size+1)
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
