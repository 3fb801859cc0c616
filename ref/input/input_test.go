package input

import (
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
