package incr

import (
	"fmt"
	"io"
	"os"
)

// File is the output an Output patches: positioned reads and writes,
// truncation and durability. *os.File is one; MemFile keeps the output in
// memory for in-process sessions (fuzzing, tests) that need no crash
// safety.
type File interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
	Sync() error
	Close() error
}

var _ File = (*os.File)(nil)

// MemFile is a File in memory. The zero value is an empty file.
type MemFile struct {
	data []byte
}

// Bytes returns the file's contents (not a copy).
func (m *MemFile) Bytes() []byte { return m.data }

// ReadAt implements io.ReaderAt.
func (m *MemFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("memfile: read at negative offset %d", off)
	}
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt implements io.WriterAt, growing the file with zeros as needed.
func (m *MemFile) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("memfile: write at negative offset %d", off)
	}
	if end := off + int64(len(p)); end > int64(len(m.data)) {
		m.grow(end)
	}
	return copy(m.data[off:], p), nil
}

// Truncate sets the file's size, dropping or zero-filling its end.
func (m *MemFile) Truncate(size int64) error {
	if size < 0 {
		return fmt.Errorf("memfile: truncate to negative size %d", size)
	}
	if size <= int64(len(m.data)) {
		m.data = m.data[:size]
		return nil
	}
	m.grow(size)
	return nil
}

func (m *MemFile) grow(size int64) {
	if size <= int64(cap(m.data)) {
		old := len(m.data)
		m.data = m.data[:size]
		clear(m.data[old:])
		return
	}
	d := make([]byte, size, max(size, 2*int64(cap(m.data))))
	copy(d, m.data)
	m.data = d
}

// reserve makes room for size bytes without changing the contents.
func (m *MemFile) reserve(size int64) {
	if size > int64(cap(m.data)) {
		d := make([]byte, len(m.data), size)
		copy(d, m.data)
		m.data = d
	}
}

// Sync implements File; memory needs no syncing.
func (m *MemFile) Sync() error { return nil }

// Close implements File.
func (m *MemFile) Close() error { return nil }
