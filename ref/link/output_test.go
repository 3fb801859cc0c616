package link

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWriteOutput(t *testing.T) {
	for _, tc := range []struct {
		name string
		old  []byte // nil: no previous file
	}{
		{"new file", nil},
		{"replaces an output", []byte("an older and longer output file")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "a.out")
			if tc.old != nil {
				require.NoError(t, os.WriteFile(out, tc.old, 0o644))
			}
			require.NoError(t, WriteOutput(out, []byte("image"), 0o755))
			got, err := os.ReadFile(out)
			require.NoError(t, err)
			require.Equal(t, "image", string(got))
			fi, err := os.Stat(out)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 1, "the old file's temporary name is gone")
		})
	}
}
