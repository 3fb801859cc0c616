package lld_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/linkcheck/linkcheck/oracle/lld"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/obj"
)

var triples = map[obj.Format]string{
	obj.ELF:   "x86_64-linux-gnu",
	obj.MachO: "x86_64-apple-macos11",
	obj.COFF:  "x86_64-pc-windows-msvc",
	obj.Wasm:  "wasm32-unknown-unknown",
}

// assemble assembles src with llvm-mc for format f into dir.
func assemble(t *testing.T, f obj.Format, src, dir string) string {
	t.Helper()
	mc := tools.Require(t, "llvm-mc")
	obj := filepath.Join(dir, filepath.Base(src)+".o")
	out, err := exec.Command(mc.Path, "-triple", triples[f], "-filetype=obj", src, "-o", obj).CombinedOutput()
	require.NoError(t, err, "llvm-mc: %s", out)
	return obj
}

func TestLink(t *testing.T) {
	tests := []struct {
		format obj.Format
		magic  []byte
	}{
		{obj.ELF, []byte("\x7fELF")},
		{obj.MachO, []byte{0xcf, 0xfa, 0xed, 0xfe}},
		{obj.COFF, []byte("MZ")},
		{obj.Wasm, []byte("\x00asm")},
	}
	for _, tc := range tests {
		t.Run(string(tc.format), func(t *testing.T) {
			name, err := lld.Tool(tc.format)
			require.NoError(t, err)
			tools.Require(t, name)
			dir := t.TempDir()
			obj := assemble(t, tc.format, filepath.Join("testdata", string(tc.format)+".s"), dir)
			out := filepath.Join(dir, "out")
			res, err := lld.Link(context.Background(), tc.format, []string{obj}, out, lld.Options{MeasurePeak: true})
			require.NoError(t, err)
			require.Positive(t, res.CPU)
			direct, err := lld.Link(context.Background(), tc.format, []string{obj}, out, lld.Options{})
			require.NoError(t, err)
			require.Zero(t, direct.MaxRSSKB, "the peak is measured only when asked")
			require.Positive(t, direct.Duration)
			data, err := os.ReadFile(out)
			require.NoError(t, err)
			require.Equal(t, tc.magic, data[:len(tc.magic)])
			require.Equal(t, obj, res.Cmd[len(res.Cmd)-1])
			require.Contains(t, res.Reproducer(), name)
			require.Positive(t, res.MaxRSSKB)
			require.Positive(t, res.Duration)
		})
	}
}

func TestLinkFailureReportsStderrAndCommand(t *testing.T) {
	for _, f := range []obj.Format{obj.ELF, obj.MachO, obj.COFF} {
		t.Run(string(f), func(t *testing.T) {
			name, err := lld.Tool(f)
			require.NoError(t, err)
			tools.Require(t, name)
			dir := t.TempDir()
			obj := assemble(t, f, filepath.Join("testdata", "undef.s"), dir)
			res, err := lld.Link(context.Background(), f, []string{obj}, filepath.Join(dir, "out"), lld.Options{})
			require.Error(t, err)
			require.NotNil(t, res)
			require.Contains(t, err.Error(), "undefined symbol")
			require.Contains(t, err.Error(), "missing_function")
			require.Contains(t, err.Error(), res.Reproducer())
		})
	}
}

func TestArgs(t *testing.T) {
	tests := []struct {
		format obj.Format
		want   []string
	}{
		{obj.ELF, []string{"-e", "_start", "-o", "o", "-x", "a.o"}},
		{obj.MachO, []string{"-arch", "x86_64", "-platform_version", "macos", "11.0", "11.0", "-e", "__start", "-o", "o", "-x", "a.o"}},
		{obj.COFF, []string{"/entry:_start", "/subsystem:console", "/nodefaultlib", "/debug:symtab", "/out:o", "-x", "a.o"}},
		{obj.Wasm, []string{"--no-entry", "--export=_start", "-o", "o", "-x", "a.o"}},
	}
	for _, tc := range tests {
		got, err := lld.Args(tc.format, []string{"a.o"}, "o", []string{"-x"})
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
	_, err := lld.Args("pdp11", nil, "o", nil)
	require.ErrorContains(t, err, "unknown format")
	_, err = lld.Link(context.Background(), obj.ELF, nil, "o", lld.Options{})
	require.ErrorContains(t, err, "no input objects")
}

func TestReproducerQuotes(t *testing.T) {
	r := &lld.Result{Cmd: []string{"/usr/bin/ld.lld", "-o", "a b", "it's", ""}}
	require.Equal(t, `/usr/bin/ld.lld -o 'a b' 'it'\''s' ''`, r.Reproducer())
}

// TestLinkChecksOutput: a linker that exits 0 without writing its output,
// or after truncating it, is not trusted (issue 17, defect 7).
func TestLinkChecksOutput(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"nothing":  "exit 0",
		"truncate": `for a; do case "$prev" in -o) : > "$a";; esac; prev=$a; done; exit 0`,
	} {
		t.Run(name, func(t *testing.T) {
			bin := filepath.Join(dir, name)
			require.NoError(t, os.MkdirAll(bin, 0o755))
			script := "#!/bin/sh\ncase \"$1\" in --version) echo 'Debian LLD 16.0.6 (compatible with GNU linkers)'; exit 0;; esac\n" + body + "\n"
			require.NoError(t, os.WriteFile(filepath.Join(bin, "ld.lld"), []byte(script), 0o755))
			t.Setenv("LINKCHECK_LLVM_BIN", bin)
			out := filepath.Join(bin, "a.out")
			_, err := lld.Link(context.Background(), obj.ELF, []string{"x.o"}, out, lld.Options{})
			require.ErrorContains(t, err, "exited 0 but")
		})
	}
}
