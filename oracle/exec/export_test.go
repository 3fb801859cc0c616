//go:build linux

package exec

import "context"

// RunContained exposes runContained to the tests: a run under a given
// containment mode of package launch, whatever this process's uid.
var RunContained = runContained

// Launchers is a set of kept launchers (the native runs of a Runner).
type Launchers = launchers

// NewLaunchers returns an empty set of launchers.
func NewLaunchers() *Launchers { return &launchers{} }

// CloseLaunchers stops the launchers of l.
func CloseLaunchers(l *Launchers) { l.close() }

// RunOn runs path on l in the given containment mode.
func RunOn(ctx context.Context, l *Launchers, path, mode string) (*Result, error) {
	exe, err := fileExecutable(path)
	if err != nil {
		return nil, err
	}
	return l.run(ctx, exe, Options{}, mode, "")
}

// LaunchersStarted counts the launchers l started.
func LaunchersStarted(l *Launchers) int { return int(l.started.Load()) }
