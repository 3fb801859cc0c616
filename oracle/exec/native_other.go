//go:build !linux

package exec

import (
	"context"
	"errors"
	"os"
)

// launchers is empty where there are no native runs.
type launchers struct{}

func (*launchers) close() {}

// executable is what a native run runs (none here).
type executable struct {
	name, path string
	data       []byte
	scratch    func() (string, func(), error)
}

func (*launchers) native(context.Context, executable, Options, string) (*Result, error) {
	return nil, errors.New("native runs need linux/amd64")
}

func scratchBase() string { return os.TempDir() }
