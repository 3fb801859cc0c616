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

func (*launchers) native(context.Context, string, Options, string) (*Result, error) {
	return nil, errors.New("native runs need linux/amd64")
}

func scratchBase() string { return os.TempDir() }
