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
	"runtime/debug"
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
	f, size, err := open(path, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readAll(io.LimitReader(f, limit+1), size)
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

// open opens the regular file at path, of at most limit bytes, and
// returns it with its size.
func open(path string, limit int64) (*os.File, int64, error) {
	// O_NONBLOCK: opening a FIFO must not wait for a writer; the mode
	// check below then refuses it. (It changes nothing for regular files.)
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: not a regular file (%s)", path, fi.Mode().Type())
	}
	if fi.Size() > limit {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %d bytes, more than the %d this kind of file may have", path, fi.Size(), limit)
	}
	return f, fi.Size(), nil
}

// WithFile calls fn with the bytes of the regular file at path, of at most
// limit bytes, as ReadFile reads it, but mapped rather than copied where
// the system can map files: fn must not keep data or any part of it
// after it returns (the mapping is gone then). A file that shrinks while
// fn reads it is an error naming the file, not a crash; one that grows is
// seen at the size it had when it was opened.
func WithFile(path string, limit int64, fn func(data []byte) error) (err error) {
	f, size, err := open(path, limit)
	if err != nil {
		return err
	}
	defer f.Close()
	if size == 0 {
		return fn(nil)
	}
	data, release, err := mapFile(f, size)
	if err != nil {
		return err
	}
	defer release()
	// A read past the end of a file truncated under the mapping faults
	// (SIGBUS): the goroutine panics instead of the process dying.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(interface{ Addr() uintptr }); !ok {
				panic(r)
			}
			err = fmt.Errorf("%s: changed while it was read (%v)", path, r)
		}
	}()
	return fn(data)
}
