//go:build linux

package exec

// RunContained exposes runContained to the tests: a run under a given
// containment mode of package launch, whatever this process's uid.
var RunContained = runContained
