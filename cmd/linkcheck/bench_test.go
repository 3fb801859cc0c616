package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/tools"
)

func TestBenchUsage(t *testing.T) {
	var out, errb bytes.Buffer
	require.Equal(t, exitBad, runBench(nil, &out, &errb))
	require.Contains(t, errb.String(), "usage: linkcheck bench link")
	errb.Reset()
	require.Equal(t, exitBad, runBench([]string{"nope"}, &out, &errb))
	require.Contains(t, errb.String(), `unknown benchmark "nope"`)
	errb.Reset()
	require.Equal(t, exitBad, runBench([]string{"update", "-format", "wasm", "-policy", "got", "-funcs", "10"}, &out, &errb))
	require.Contains(t, errb.String(), "wasm has no GOT")
	errb.Reset()
	require.Equal(t, exitBad, runBench([]string{"link", "-format", "elf", "-funcs", "10,x"}, &out, &errb))
	require.Contains(t, errb.String(), `"x" is not a positive count`)
}

func TestBenchLink(t *testing.T) {
	tools.Require(t, "ld.lld")
	var out, errb bytes.Buffer
	code := runBench([]string{"link", "-format", "elf", "-funcs", "50,200", "-runs", "1"}, &out, &errb)
	require.Equal(t, exitOK, code, errb.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 4, out.String())
	require.Contains(t, lines[0], "time ratio")
	require.Contains(t, lines[0], "lld peak MB")
	require.True(t, strings.HasPrefix(strings.TrimSpace(lines[1]), "50 "), lines[1])
	require.True(t, strings.HasPrefix(strings.TrimSpace(lines[2]), "200 "), lines[2])
	require.Contains(t, lines[3], "medians of 1 runs")
}

// TestBenchArgs runs `linkcheck bench` with the arguments in
// LINKCHECK_BENCH_ARGS (space-separated) and logs the table, for full-size
// runs from go test: LINKCHECK_BENCH_ARGS='link -format elf -funcs
// 1000,10000,100000 -runs 5' go test ./cmd/linkcheck -run TestBenchArgs -v
func TestBenchArgs(t *testing.T) {
	args := strings.Fields(os.Getenv("LINKCHECK_BENCH_ARGS"))
	if len(args) == 0 {
		t.Skip("LINKCHECK_BENCH_ARGS not set")
	}
	var out, errb bytes.Buffer
	code := runBench(args, &out, &errb)
	t.Logf("linkcheck bench %s\n%s%s", strings.Join(args, " "), out.String(), errb.String())
	require.Equal(t, exitOK, code)
}

func TestBenchUpdate(t *testing.T) {
	tools.Require(t, "ld.lld")
	var out, errb bytes.Buffer
	code := runBench([]string{"update", "-funcs", "300", "-runs", "3"}, &out, &errb)
	require.Equal(t, exitOK, code, errb.String())
	s := out.String()
	for _, want := range []string{"in place", "move", "ref full link", "lld full link", "vs lld full link", "funcs=300", "policy=trampoline"} {
		require.Contains(t, s, want)
	}
	errb.Reset()
	require.Equal(t, exitBad, runBench([]string{"update", "-policy", "nope"}, &out, &errb))
	require.Contains(t, errb.String(), "unknown policy")
}
