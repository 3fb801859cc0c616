package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/campaign"
)

// TestFuzzUsage covers `linkcheck fuzz`'s bad usage (exit 2, nothing
// run) and -list, which needs no fuzzing.
func TestFuzzUsage(t *testing.T) {
	held := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(held, "campaign.json"), []byte("{}"), 0o644))
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-jobs", "0"}, "-jobs 0: want at least 1"},
		{[]string{"-time", "0s"}, "-time must be positive"},
		{[]string{"-targets", "FuzzNope"}, `unknown fuzz target "FuzzNope"`},
		{[]string{"-formats", "pdp11"}, `unknown format "pdp11"`},
		{[]string{"-src", t.TempDir()}, "the linkcheck source tree is not there"},
		{[]string{"-out", t.TempDir(), "-resume"}, "holds no campaign"},
		{[]string{"-out", held}, "already holds a campaign: pass -resume"},
		{[]string{"extra"}, "unexpected arguments: extra"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"fuzz"}, tt.args...), &stdout, &stderr)
		require.Equal(t, 2, code, "%v: %s", tt.args, stderr.String())
		require.Contains(t, stderr.String(), tt.want, "%v", tt.args)
		require.Empty(t, stdout.String())
	}
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"fuzz", "-list", "-formats", "macho"}, &stdout, &stderr), stderr.String())
	require.Contains(t, stdout.String(), `{"name":"FuzzReadMachO","file":"readmacho_test.go","formats":["macho"]}`)
	require.NotContains(t, stdout.String(), "FuzzReadCOFF")
	require.NotContains(t, stdout.String(), "FuzzTrampoline")
}

// TestFuzzDisplay checks the live table a terminal shows.
func TestFuzzDisplay(t *testing.T) {
	var b bytes.Buffer
	d := newDisplay(&b)
	d.event(campaign.Event{Event: "run", Target: "FuzzGOT", Left: 60})
	d.event(campaign.Event{Event: "progress", Target: "FuzzGOT", ExecsPerSec: 42, CheckedPerSec: 512.5, Checked: 1540, Corpus: 17, NewInteresting: 5, Elapsed: 3, Left: 57})
	d.event(campaign.Event{Event: "progress", Target: "FuzzParse", Baseline: "3/22", Elapsed: 1, Left: 57})
	d.event(campaign.Event{Event: "finding", Target: "FuzzGOT", Finding: "FuzzGOT-abc", Findings: 1, Message: "invariant 3 (GOT slot)", Left: 57})
	d.close()
	out := b.String()
	require.Contains(t, out, "finding FuzzGOT-abc: invariant 3 (GOT slot)\n")
	last := out[strings.LastIndex(out, "\x1b[J")+len("\x1b[J"):]
	require.Regexp(t, `(?m)^target +execs/s +checked/s +checked +corpus +new +findings +fuzzed *$`, last)
	require.Regexp(t, `(?m)^FuzzGOT +42 +512\.5 +1540 +17 +5 +1 +3s *$`, last)
	require.Regexp(t, `(?m)^FuzzParse +0 +0\.0 +0 +0 +0 +0 +1s +baseline 3/22$`, last)
	require.Contains(t, last, "time left: 57s\n")
}
