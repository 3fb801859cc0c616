package fuzz

import (
	"flag"
	"os"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/pipeline"
)

// TestMain runs the fuzz targets, and every test of the package, with the
// checked update loop's collector setting (pipeline.LoopGC), as
// `linkcheck bench check` measures the loop; a fuzz worker process (one
// of the -parallel processes `go test -fuzz` starts, each running the loop
// one input at a time) also runs on one P (pipeline.LoopProcs), as bench
// check does.
func TestMain(m *testing.M) {
	pipeline.LoopGC()
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		pipeline.LoopProcs()
	}
	os.Exit(m.Run())
}
