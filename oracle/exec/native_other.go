//go:build !linux

package exec

import (
	"context"
	"errors"
)

func runNative(context.Context, string, Options) (*Result, error) {
	return nil, errors.New("native runs need linux/amd64")
}
