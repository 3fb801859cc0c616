package tools

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestNeedsLLD is an ordinary test that needs ld.lld. TestRequireBehaviour
// runs it in a subprocess with no LLVM tools to check how it skips or fails.
func TestNeedsLLD(t *testing.T) {
	lld := Require(t, "ld.lld")
	out, err := exec.Command(lld.Path, "--version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "LLD 16.")
}

func TestRequireBehaviour(t *testing.T) {
	if os.Getenv("LINKCHECK_TOOLS_CHILD") == "1" {
		t.Skip("child process")
	}
	empty := t.TempDir()
	runChild := func(require bool) (string, error) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNeedsLLD$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "LINKCHECK_LLVM_BIN="+empty, "LINKCHECK_TOOLS_CHILD=1", "LINKCHECK_REQUIRE_TOOLS=")
		if require {
			cmd.Env = append(cmd.Env, "LINKCHECK_REQUIRE_TOOLS=1")
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	wantMsg := func(t *testing.T, out string) {
		require.Contains(t, out, "tool ld.lld: not found in LINKCHECK_LLVM_BIN="+empty)
		require.Contains(t, out, "install it with: sudo ci/install-tools.sh (Debian package lld-16)")
	}

	out, err := runChild(true)
	require.Error(t, err, "with LINKCHECK_REQUIRE_TOOLS=1 a missing tool must fail the test:\n%s", out)
	require.Contains(t, out, "--- FAIL: TestNeedsLLD")
	require.Contains(t, out, "required tool missing (LINKCHECK_REQUIRE_TOOLS=1)")
	wantMsg(t, out)

	out, err = runChild(false)
	require.NoError(t, err, "%s", out)
	require.Contains(t, out, "--- SKIP: TestNeedsLLD")
	wantMsg(t, out)
}

func TestFindInLLVMBin(t *testing.T) {
	dir := t.TempDir()
	write := func(name, script string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755))
	}
	write("ld.lld", "#!/bin/sh\necho 'Debian LLD 16.0.6 (compatible with GNU linkers)'\n")
	write("llvm-mc-16", "#!/bin/sh\necho 'Debian LLVM version 16.0.6'\n")
	write("llvm-nm", "#!/bin/sh\necho 'Debian LLVM version 14.0.6'\n")
	write("llvm-readobj", "#!/bin/sh\necho 'no version here'\n")
	// A tool that hangs on --version, with a child that would outlive it.
	write("wasm-ld", "#!/bin/sh\nsleep 600 &\nsleep 600\n")
	env := Env{LLVMBin: dir, versionTimeout: 300 * time.Millisecond}

	tests := []struct {
		name    string
		path    string
		version string
		err     string
	}{
		{name: "ld.lld", path: filepath.Join(dir, "ld.lld"), version: "Debian LLD 16.0.6 (compatible with GNU linkers)"},
		{name: "llvm-mc", path: filepath.Join(dir, "llvm-mc-16"), version: "Debian LLVM version 16.0.6"},
		{name: "llvm-nm", err: "is LLVM 14 (\"Debian LLVM version 14.0.6\"); linkcheck supports LLVM 16 only"},
		{name: "llvm-readobj", err: "is LLVM unknown"},
		{name: "llvm-objdump", err: "not found in LINKCHECK_LLVM_BIN=" + dir},
		{name: "wasm-ld", err: "no answer within 300ms"},
		{name: "no-such-tool", err: `unknown tool "no-such-tool"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tool, err := env.Find(tt.name)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				if tt.name != "no-such-tool" {
					require.ErrorContains(t, err, "ci/install-tools.sh")
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.path, tool.Path)
			require.Equal(t, tt.version, tool.Version)
		})
	}
}

func TestLLVMBinExcludesPath(t *testing.T) {
	// A tool on PATH must not be used when LINKCHECK_LLVM_BIN is set.
	pathDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(pathDir, "ld.lld-16"), []byte("#!/bin/sh\necho 'LLD 16.0.6'\n"), 0o755))
	env := Env{LLVMBin: t.TempDir(), Path: pathDir}
	_, err := env.Find("ld.lld")
	require.ErrorIs(t, err, ErrNotFound)
	env.LLVMBin = ""
	tool, err := env.Find("ld.lld")
	require.NoError(t, err)
	require.Equal(t, filepath.Join(pathDir, "ld.lld-16"), tool.Path)
}

func TestSpecsComplete(t *testing.T) {
	want := []string{"ld.lld", "ld64.lld", "lld-link", "wasm-ld", "llvm-objdump", "llvm-readobj", "llvm-nm", "llvm-mc", "clang", "wasm-validate", "wasm-objdump", "wine64", "libunicorn"}
	for _, n := range want {
		spec, ok := Lookup(n)
		require.True(t, ok, n)
		require.NotEmpty(t, spec.Package, n)
		require.NotEmpty(t, spec.Oracle, n)
	}
	require.True(t, strings.HasPrefix(InstallScript, "sudo "))
}
