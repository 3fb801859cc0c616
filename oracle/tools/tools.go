// Package tools finds the external programs and libraries that linkcheck's
// oracles drive (LLVM 16's lld and binutils, wabt, wine, libunicorn), reports
// their versions, and refuses versions it does not support.
//
// LLVM tools are looked up by their "-16" names on PATH and then in
// /usr/lib/llvm-16/bin. When LINKCHECK_LLVM_BIN is set, LLVM tools are looked
// up only in that directory (by plain and "-16" names). The unversioned names
// on PATH are never used: on Debian they belong to another LLVM release.
package tools

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// InstallScript is the command that installs every tool linkcheck uses.
const InstallScript = "sudo ci/install-tools.sh"

// SupportedLLVM is the LLVM major version whose tools linkcheck accepts.
const SupportedLLVM = "16"

// Kind says how a tool is found and versioned.
type Kind int

const (
	// LLVM is a program from the LLVM 16 packages.
	LLVM Kind = iota
	// Program is another executable (wabt, wine).
	Program
	// Library is a shared library loaded at run time (libunicorn).
	Library
)

// Spec describes one tool: how to find it, which oracle needs it and which
// Debian package installs it.
type Spec struct {
	Name    string   // the name linkcheck uses, e.g. "ld.lld"
	Kind    Kind     // how it is found
	Paths   []string // for Program and Library: absolute candidates tried in order (after PATH for programs)
	Oracle  string   // what needs it
	Package string   // the Debian package that installs it
	// VersionArgs are the arguments that make the program print its version.
	VersionArgs []string
}

// Specs lists every tool linkcheck knows, in the order doctor prints them.
func Specs() []Spec {
	llvm := func(name, pkg, oracle string) Spec {
		return Spec{Name: name, Kind: LLVM, Oracle: oracle, Package: pkg, VersionArgs: []string{"--version"}}
	}
	return []Spec{
		llvm("ld.lld", "lld-16", "lld (ELF link)"),
		llvm("ld64.lld", "lld-16", "lld (Mach-O link)"),
		llvm("lld-link", "lld-16", "lld (COFF link)"),
		llvm("wasm-ld", "lld-16", "lld (Wasm link)"),
		llvm("llvm-objdump", "llvm-16", "well-formedness, canon cross-check"),
		llvm("llvm-readobj", "llvm-16", "well-formedness, canon cross-check"),
		llvm("llvm-nm", "llvm-16", "canon cross-check"),
		llvm("llvm-otool", "llvm-16", "Mach-O well-formedness"),
		llvm("llvm-mc", "llvm-16", "encoder differential, asm corpus"),
		llvm("llvm-dlltool", "llvm-16", "import libraries for PE links"),
		llvm("clang", "clang-16", "C objects for link tests"),
		{Name: "mold", Kind: Program, Paths: []string{"/usr/bin/mold"}, Oracle: "linker under test (mold)", Package: "mold", VersionArgs: []string{"--version"}},
		{Name: "ld.bfd", Kind: Program, Paths: []string{"/usr/bin/ld.bfd"}, Oracle: "linker under test (GNU ld)", Package: "binutils", VersionArgs: []string{"--version"}},
		{Name: "ld.gold", Kind: Program, Paths: []string{"/usr/bin/ld.gold"}, Oracle: "linker under test (gold, incremental)", Package: "binutils", VersionArgs: []string{"--version"}},
		{Name: "wasm-validate", Kind: Program, Paths: []string{"/usr/bin/wasm-validate"}, Oracle: "Wasm well-formedness", Package: "wabt", VersionArgs: []string{"--version"}},
		{Name: "wasm-objdump", Kind: Program, Paths: []string{"/usr/bin/wasm-objdump"}, Oracle: "Wasm well-formedness", Package: "wabt", VersionArgs: []string{"--version"}},
		{Name: "chromium", Kind: Program, Paths: []string{"/usr/bin/chromium"}, Oracle: "campaign report rendering (headless)", Package: "chromium", VersionArgs: []string{"--version"}},
		{Name: "wine64", Kind: Program, Paths: []string{"/usr/lib/wine/wine64"}, Oracle: "wine (PE execution)", Package: "wine64", VersionArgs: []string{"--version"}},
		{Name: "libunicorn", Kind: Library, Paths: []string{
			"/usr/lib/x86_64-linux-gnu/libunicorn.so.2",
			"/usr/lib/libunicorn.so.2",
			"/usr/local/lib/libunicorn.so.2",
		}, Oracle: "unicorn (x86_64 emulation)", Package: "libunicorn2"},
	}
}

// Lookup returns the spec of the named tool.
func Lookup(name string) (Spec, bool) {
	for _, s := range Specs() {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Tool is a found tool.
type Tool struct {
	Spec
	Path    string // absolute path of the program or library
	Version string // first line of its version output, trimmed
}

// Env is where tools are looked up. The zero value looks nowhere; use
// FromEnvironment for the process environment.
type Env struct {
	LLVMBin     string // LINKCHECK_LLVM_BIN: when set, the only place LLVM tools are looked up
	Path        string // PATH
	UnicornLib  string // LINKCHECK_UNICORN_LIB: explicit path of libunicorn
	LLVMLibDir  string // default LLVM directory, /usr/lib/llvm-16/bin
	RequireAll  bool   // LINKCHECK_REQUIRE_TOOLS=1
	skipVersion bool
	// versionTimeout bounds the version probe; 0 means VersionTimeout.
	versionTimeout time.Duration
}

// FromEnvironment reads the lookup settings from the process environment.
func FromEnvironment() Env {
	return Env{
		LLVMBin:    os.Getenv("LINKCHECK_LLVM_BIN"),
		Path:       os.Getenv("PATH"),
		UnicornLib: os.Getenv("LINKCHECK_UNICORN_LIB"),
		LLVMLibDir: "/usr/lib/llvm-" + SupportedLLVM + "/bin",
		RequireAll: os.Getenv("LINKCHECK_REQUIRE_TOOLS") == "1",
	}
}

// ErrNotFound is wrapped by every error for a tool that is not installed.
var ErrNotFound = errors.New("not found")

// MissingError says that a tool is missing or unusable and how to install it.
type MissingError struct {
	Name    string
	Package string
	Reason  string // "not found in ..." or a version refusal
	Err     error
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("tool %s: %s; install it with: %s (Debian package %s)", e.Name, e.Reason, InstallScript, e.Package)
}

func (e *MissingError) Unwrap() error { return e.Err }

// Find looks a tool up by name in the process environment.
func Find(name string) (*Tool, error) { return FromEnvironment().Find(name) }

// Find looks a tool up by name.
func (env Env) Find(name string) (*Tool, error) {
	spec, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("tools: unknown tool %q", name)
	}
	path, where := env.locate(spec)
	if path == "" {
		return nil, &MissingError{Name: name, Package: spec.Package, Reason: "not found in " + where, Err: ErrNotFound}
	}
	t := &Tool{Spec: spec, Path: path}
	if env.skipVersion {
		return t, nil
	}
	v, err := version(spec, path, cmp.Or(env.versionTimeout, VersionTimeout))
	if err != nil {
		return nil, &MissingError{Name: name, Package: spec.Package, Reason: fmt.Sprintf("%s does not run: %v", path, err), Err: err}
	}
	t.Version = v
	if spec.Kind == LLVM {
		if major := llvmMajor(v); major != SupportedLLVM {
			return nil, &MissingError{Name: name, Package: spec.Package,
				Reason: fmt.Sprintf("%s is LLVM %s (%q); linkcheck supports LLVM %s only", path, orUnknown(major), v, SupportedLLVM),
				Err:    ErrUnsupportedVersion}
		}
	}
	return t, nil
}

// ErrUnsupportedVersion is wrapped when a tool is found but its version is refused.
var ErrUnsupportedVersion = errors.New("unsupported version")

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func (env Env) locate(spec Spec) (path, where string) {
	switch spec.Kind {
	case LLVM:
		if env.LLVMBin != "" {
			for _, n := range []string{spec.Name, spec.Name + "-" + SupportedLLVM} {
				if p := filepath.Join(env.LLVMBin, n); isExec(p) {
					return p, ""
				}
			}
			return "", "LINKCHECK_LLVM_BIN=" + env.LLVMBin
		}
		if p := lookPath(env.Path, spec.Name+"-"+SupportedLLVM); p != "" {
			return p, ""
		}
		if env.LLVMLibDir != "" {
			if p := filepath.Join(env.LLVMLibDir, spec.Name); isExec(p) {
				return p, ""
			}
		}
		return "", fmt.Sprintf("PATH (as %s-%s) and %s", spec.Name, SupportedLLVM, env.LLVMLibDir)
	case Program:
		if p := lookPath(env.Path, spec.Name); p != "" {
			return p, ""
		}
		for _, p := range spec.Paths {
			if isExec(p) {
				return p, ""
			}
		}
		return "", "PATH and " + strings.Join(spec.Paths, ", ")
	case Library:
		cands := spec.Paths
		if env.UnicornLib != "" {
			cands = []string{env.UnicornLib}
		}
		for _, p := range cands {
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p, ""
			}
		}
		return "", strings.Join(cands, ", ")
	}
	return "", "nowhere"
}

func lookPath(pathEnv, name string) string {
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			continue
		}
		if p := filepath.Join(dir, name); isExec(p) {
			return p
		}
	}
	return ""
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

var versionLine = regexp.MustCompile(`(?i)(?:LLVM version|lld|clang version)\D*(\d+)\.(\d+)`)

// llvmMajor extracts the LLVM major version from a version line.
func llvmMajor(v string) string {
	m := versionLine.FindStringSubmatch(v)
	if m == nil {
		return ""
	}
	return m[1]
}

func runVersion(path string, args []string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	// Its own process group, killed whole on timeout: a wrapper script's
	// children must not outlive the probe.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		return "", fmt.Errorf("%s %s: no answer within %v", path, strings.Join(args, " "), timeout)
	}
	if err != nil && out.Len() == 0 {
		return "", err
	}
	const maxVersionOutput = 64 << 10
	if out.Len() > maxVersionOutput {
		out.Truncate(maxVersionOutput)
	}
	return out.String(), nil
}

// VersionTimeout bounds a tool's version probe: a tool that hangs on
// --version must not hang doctor or the command that needs it. It is long
// because on a loaded machine (2 cores under a fuzz campaign and a build)
// clang-16 --version was once seen taking over 10 s.
const VersionTimeout = 30 * time.Second

// findVersionLine returns the first line of an LLVM tool's version output
// that carries the version number, or "".
func findVersionLine(text string) string {
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); versionLine.MatchString(line) {
			return line
		}
	}
	return ""
}

func version(spec Spec, path string, timeout time.Duration) (string, error) {
	if spec.Kind == Library {
		out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", spec.Package).Output()
		if err != nil || len(out) == 0 {
			return "unknown", nil
		}
		return strings.TrimSpace(string(out)), nil
	}
	text, err := runVersion(path, spec.VersionArgs, timeout)
	if err != nil {
		return "", err
	}
	if spec.Kind == LLVM {
		line := findVersionLine(text)
		if line == "" {
			// Some LLVM tools are another tool under a second name and print
			// no version (llvm-dlltool is llvm-ar): ask the binary behind the
			// link.
			if real, err := filepath.EvalSymlinks(path); err == nil && filepath.Base(real) != filepath.Base(path) {
				if t, err := runVersion(real, spec.VersionArgs, timeout); err == nil {
					line = findVersionLine(t)
				}
			}
		}
		if line != "" {
			return line, nil
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line, nil
		}
	}
	return "unknown", nil
}

// Require returns the named tool or, when it is missing, skips the test with
// the install command in the message. With LINKCHECK_REQUIRE_TOOLS=1 (set by
// `make test` and CI) a missing tool fails the test instead: no test silently
// passes without its oracle.
func Require(t testing.TB, name string) *Tool {
	t.Helper()
	return FromEnvironment().Require(t, name)
}

// Require is Require with an explicit environment.
func (env Env) Require(t testing.TB, name string) *Tool {
	t.Helper()
	tool, err := env.Find(name)
	if err == nil {
		return tool
	}
	if env.RequireAll {
		t.Fatalf("required tool missing (LINKCHECK_REQUIRE_TOOLS=1): %v", err)
	} else {
		t.Skipf("skipping: %v", err)
	}
	return nil
}

// Path returns the path of the named tool or an error that says how to install it.
func Path(name string) (string, error) {
	t, err := Find(name)
	if err != nil {
		return "", err
	}
	return t.Path, nil
}
