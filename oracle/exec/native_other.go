//go:build !linux

package exec

import (
	"context"
	"errors"
)

// launchers is empty where there are no native runs.
type launchers struct{}

func (*launchers) run(context.Context, string, Options, string) (*Result, error) {
	return nil, errors.New("native runs need linux/amd64")
}

func (*launchers) close() {}

func (*launchers) native(context.Context, string, Options) (*Result, error) {
	return nil, errors.New("native runs need linux/amd64")
}
