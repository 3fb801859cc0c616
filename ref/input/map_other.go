//go:build !unix

package input

import "os"

// mapFile reads the file where mapping is not available.
func mapFile(f *os.File, size int64) ([]byte, func(), error) {
	data, err := readAll(f, size)
	return data, func() {}, err
}
