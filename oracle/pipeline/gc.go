package pipeline

import (
	"os"
	"runtime"
	"runtime/debug"
)

// LoopGCPercent is the garbage collector's target (GOGC) in the processes
// that run the checked update loop: the fuzz targets' workers and
// `linkcheck bench check`. The loop's live heap is small (a program of at
// most 40 functions, its compiled objects and two canonical images, a few
// MB) and it allocates tens of MB per second, so the default of 100 makes
// the collector run every few updates; at 400 its CPU share of the loop
// fell from about 15% to 5% (docs/benchmarks.md) and the peak RSS did not
// move (65 MB either way, most of it the runtime and the binary).
const LoopGCPercent = 400

// LoopGC sets the collector's target to LoopGCPercent unless the GOGC
// environment variable chooses one, and returns a function that restores
// the previous target. As cmd/compile does for itself, it is a setting of
// the process that runs the loop, made at its start.
func LoopGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	old := debug.SetGCPercent(LoopGCPercent)
	return func() { debug.SetGCPercent(old) }
}

// LoopProcs makes the process run Go code on one thread at a time
// (GOMAXPROCS 1) unless the GOMAXPROCS environment variable chooses, and
// returns a function that restores the previous setting. The checked
// update loop is sequential: a process that runs it is one core's worth
// of checking (`linkcheck fuzz -jobs N` runs N fuzz workers), and a second
// P only spends another core's CPU on the loop's behalf, in the
// collector's idle-priority mark workers and in threads spinning for
// work, while that core is idle in a benchmark and taken from the other
// workers in a campaign (docs/benchmarks.md, "the loop's processes on one
// P"). It is set by `linkcheck bench check` and by the fuzz targets'
// worker processes (fuzz.TestMain); tests keep their parallelism.
func LoopProcs() (restore func()) {
	if os.Getenv("GOMAXPROCS") != "" {
		return func() {}
	}
	old := runtime.GOMAXPROCS(1)
	return func() { runtime.GOMAXPROCS(old) }
}
