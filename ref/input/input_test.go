package input

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(p, []byte("hello"), 0o644))
	data, err := ReadFile(p, 5)
	require.NoError(t, err)
	require.Equal(t, "hello", string(data))
	_, err = ReadFile(p, 4)
	require.ErrorContains(t, err, "5 bytes, more than the 4")
	_, err = ReadFile(dir, 100)
	require.ErrorContains(t, err, "not a regular file")
	_, err = ReadFile("/dev/zero", 100)
	require.ErrorContains(t, err, "not a regular file")
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	_, err = ReadFile(fifo, 100)
	require.ErrorContains(t, err, "not a regular file", "a FIFO is refused, not read (which would hang)")
	link := filepath.Join(dir, "zero")
	require.NoError(t, os.Symlink("/dev/zero", link))
	_, err = ReadFile(link, 100)
	require.ErrorContains(t, err, "not a regular file")
}

func TestWithFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(p, []byte("hello"), 0o644))
	var got string
	require.NoError(t, WithFile(p, 5, func(data []byte) error { got = string(data); return nil }))
	require.Equal(t, "hello", got)
	require.ErrorContains(t, WithFile(p, 4, func([]byte) error { return nil }), "5 bytes, more than the 4")
	require.ErrorContains(t, WithFile(dir, 100, func([]byte) error { return nil }), "not a regular file")
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	require.NoError(t, WithFile(empty, 5, func(data []byte) error { got = string(data); return nil }))
	require.Empty(t, got)

	// A file truncated while it is read: an error naming it, not a crash.
	big := filepath.Join(dir, "big")
	require.NoError(t, os.WriteFile(big, make([]byte, 1<<16), 0o644))
	err := WithFile(big, 1<<20, func(data []byte) error {
		require.NoError(t, os.Truncate(big, 0))
		var sum int
		for _, b := range data {
			sum += int(b)
		}
		return fmt.Errorf("read %d bytes of sum %d after the truncation", len(data), sum)
	})
	require.ErrorContains(t, err, big+": changed while it was read")
}
