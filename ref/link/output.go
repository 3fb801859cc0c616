package link

import (
	"os"
	"path/filepath"
)

// WriteOutput writes a linker's output file as ld.lld does: an existing
// regular file at path is first moved out of the way and released in the
// background (ld.lld's unlinkAsync), so that the write waits neither for
// the kernel to drop the old file's pages nor for their writeback, which
// truncating it in place does; then data is written to path with perm.
// A file that cannot be moved is overwritten in place.
func WriteOutput(path string, data []byte, perm os.FileMode) error {
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		if old, err := os.CreateTemp(filepath.Dir(path), ".old-"+filepath.Base(path)+"-*"); err == nil {
			name := old.Name()
			old.Close()
			if os.Rename(path, name) != nil {
				os.Remove(name)
			} else if f, err := os.Open(name); err == nil {
				os.Remove(name)
				go f.Close() // the last reference: the pages are freed there
			} else {
				os.Remove(name)
			}
		}
	}
	return os.WriteFile(path, data, perm)
}
