package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunInterp(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(src), 0o666))
		return p
	}
	good := write("good.lir", "func main() { return 6 * 7 }\n")
	bad := write("bad.lir", "func main() { return x }\n")
	loop := write("loop.lir", "func main() { while 1 { } }\n")
	for _, tc := range []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"ok", []string{good}, 0, "42\n", ""},
		{"no args", nil, 2, "", "usage: linkcheck interp"},
		{"two args", []string{good, good}, 2, "", "usage: linkcheck interp"},
		{"missing file", []string{filepath.Join(dir, "nope.lir")}, 2, "", "no such file"},
		{"static error", []string{bad}, 2, "", bad + ":1:22: undefined variable x\n"},
		{"out of fuel", []string{"-fuel", "1000", loop}, 2, "", "out of fuel"},
		{"bad flag", []string{"-nope", good}, 2, "", "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := runInterp(tc.args, &out, &errb)
			require.Equal(t, tc.code, code, errb.String())
			require.Equal(t, tc.stdout, out.String())
			require.Contains(t, errb.String(), tc.stderr)
		})
	}
}

func TestRunInterpCorpus(t *testing.T) {
	var out, errb bytes.Buffer
	code := runInterp([]string{"../../corpus/programs/design_example.lir"}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Equal(t, "143\n", out.String())
}
