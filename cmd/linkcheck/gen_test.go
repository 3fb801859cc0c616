package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/ref/ir"
)

func TestRunGenOne(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var out, errb bytes.Buffer
	require.Equal(t, 0, runGen([]string{"-seed", "3", "-funcs", "50", "-o", dir}, &out, &errb), errb.String())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "prog.lir", entries[0].Name())
	src, err := os.ReadFile(filepath.Join(dir, "prog.lir"))
	require.NoError(t, err)
	require.Equal(t, string(ir.Print(ir.Generate(ir.GenConfig{Seed: 3, Funcs: 50}))), string(src))

	out.Reset()
	require.Equal(t, 0, runInterp([]string{filepath.Join(dir, "prog.lir")}, &out, &errb), errb.String())
	require.Regexp(t, `^\d+\n$`, out.String())
}

func TestRunGenVersions(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	require.Equal(t, 0, runGen([]string{"-seed", "4", "-funcs", "20", "-versions", "4", "-o", dir}, &out, &errb), errb.String())
	for _, name := range []string{"v1.lir", "v2.lir", "v3.lir", "v4.lir", "seq.txtar"} {
		require.FileExists(t, filepath.Join(dir, name))
	}
	require.NoFileExists(t, filepath.Join(dir, "prog.lir"))
	data, err := os.ReadFile(filepath.Join(dir, "seq.txtar"))
	require.NoError(t, err)
	ar := txtar.Parse(data)
	require.Len(t, ar.Files, 4)
	require.Contains(t, string(ar.Comment), "v1 -> v2: ")
	for i, f := range ar.Files {
		disk, err := os.ReadFile(filepath.Join(dir, f.Name))
		require.NoError(t, err)
		require.Equal(t, string(disk), string(f.Data), "file %d", i)
		out.Reset()
		require.Equal(t, 0, runInterp([]string{filepath.Join(dir, f.Name)}, &out, &errb), errb.String())
	}
}

func TestRunGenUsage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no -o", []string{"-funcs", "3"}, "-o DIR is required"},
		{"zero funcs", []string{"-funcs", "0", "-o", dir}, "-funcs 0 out of range"},
		{"zero versions", []string{"-versions", "0", "-o", dir}, "-versions 0 out of range"},
		{"extra arg", []string{"-o", dir, "x"}, `unexpected argument "x"`},
		{"bad flag", []string{"-bogus"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			require.Equal(t, 2, runGen(tc.args, &out, &errb))
			require.Contains(t, errb.String(), tc.want)
			require.NoDirExists(t, dir)
		})
	}
}
