package link

import (
	"math"
	"os"
	"runtime/debug"
)

// OneShotGC sets the garbage collector for a link whose process links
// once and exits (`linkcheck link -linker ref`), as one-shot linkers
// written in Go do, and returns what restores the previous settings. A
// link keeps nearly all it allocates (the objects read, the symbol table,
// the image) until it writes the file, so a collection finds little to
// free and only takes CPU from the link: the collector is off below a
// memory limit of eight times the size of the inputs at paths plus 512
// MiB (a link of 100,000 functions allocates about three times its
// inputs, docs/benchmarks.md); above the limit it collects as the runtime
// does at one. With GOGC or GOMEMLIMIT in the environment the runtime's
// settings are kept.
func OneShotGC(paths []string) (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	var in int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			in += fi.Size()
		}
	}
	limit := debug.SetMemoryLimit(oneShotLimit(in))
	percent := debug.SetGCPercent(-1)
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}

// oneShotLimit is OneShotGC's memory limit for inputs of in bytes.
func oneShotLimit(in int64) int64 {
	const base = 512 << 20
	if in < 0 || in > (math.MaxInt64-base)/8 {
		return math.MaxInt64
	}
	return 8*in + base
}
