package fuzz

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/linkcheck/linkcheck/oracle/tools"
)

// assembleFile assembles the file src with llvm-mc for triple and returns
// the object; nil when llvm-mc is not installed. With llvm-mc there, a
// source that fails to assemble is an error, not a silently lost seed.
func assembleFile(f *testing.F, triple, src string) []byte {
	f.Helper()
	mc, err := tools.Find("llvm-mc")
	if err != nil {
		return nil
	}
	out := filepath.Join(f.TempDir(), filepath.Base(src)+".o")
	if msg, err := exec.Command(mc.Path, "-triple", triple, "-filetype=obj", "-o", out, src).CombinedOutput(); err != nil {
		f.Fatalf("llvm-mc %s: %v: %s", src, err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		f.Fatal(err)
	}
	return data
}

// assembleText assembles the assembly text with llvm-mc for triple, as
// assembleFile does.
func assembleText(f *testing.F, triple, text string) []byte {
	f.Helper()
	src := filepath.Join(f.TempDir(), "s.s")
	if err := os.WriteFile(src, []byte(text), 0o644); err != nil {
		f.Fatal(err)
	}
	return assembleFile(f, triple, src)
}
