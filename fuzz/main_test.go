package fuzz

import (
	"os"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/pipeline"
)

// TestMain runs the fuzz targets, and every test of the package, with the
// checked update loop's collector setting (pipeline.LoopGC), as
// `linkcheck bench check` measures the loop.
func TestMain(m *testing.M) {
	pipeline.LoopGC()
	os.Exit(m.Run())
}
