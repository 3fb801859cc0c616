// Package lld drives LLVM's linkers (ld.lld, ld64.lld, lld-link, wasm-ld) as
// the reference that linkcheck's own linkers are compared against.
//
// Every link uses the same neutral entry symbol, _start (spelled __start in
// Mach-O, where C names carry a leading underscore), and no system
// libraries, so objects from linkcheck's code generator and from llvm-mc link
// without an SDK or a libc:
//
//	elf:   ld.lld -e _start -o OUT OBJ...
//	macho: ld64.lld -arch x86_64 -platform_version macos 11.0 11.0 -e __start -o OUT OBJ...
//	coff:  lld-link /entry:_start /subsystem:console /nodefaultlib /debug:symtab /out:OUT OBJ...
//	wasm:  wasm-ld --no-entry --export=_start -o OUT OBJ...
//
// Options.Extra is inserted before the object files.
package lld

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/oracle/tools/measure"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// EntrySymbol is the neutral name of the entry point every link uses.
const EntrySymbol = "_start"

// ErrLinkFailed is wrapped when lld refuses the link (or times out): the
// objects, not linkcheck, are at fault, and commands say so as bad input.
var ErrLinkFailed = errors.New("link failed")

// DefaultTimeout bounds a link when Options.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// Options tune a link.
type Options struct {
	// Timeout kills the linker after this long; zero means DefaultTimeout.
	Timeout time.Duration
	// Extra arguments, placed after the format's fixed options and before
	// the objects.
	Extra []string
	// MeasurePeak measures the linker's own peak memory (Result.MaxRSSKB)
	// by starting it through the intermediary of oracle/tools/measure, a
	// few milliseconds more per link; benchmarks set it.
	MeasurePeak bool
}

// Result describes a finished link (successful or not).
type Result struct {
	// Cmd is the exact argv, the linker's absolute path first.
	Cmd      []string
	Stdout   string
	Stderr   string
	Duration time.Duration
	// MaxRSSKB is the linker's peak resident set size in KiB (its own
	// ru_maxrss), for memory comparisons between linkers; zero unless
	// Options.MeasurePeak.
	MaxRSSKB int64
	// CPU is the linker's user and system CPU time (rusage).
	CPU time.Duration
}

// Reproducer returns the command line as one shell-quoted string that can be
// pasted into a shell.
func (r *Result) Reproducer() string {
	q := make([]string, len(r.Cmd))
	for i, a := range r.Cmd {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// ShellQuote quotes s for a POSIX shell; words of safe characters stay bare.
func ShellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:=,+@%", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Tool returns the oracle/tools name of the linker for f.
func Tool(f obj.Format) (string, error) {
	switch f {
	case obj.ELF:
		return "ld.lld", nil
	case obj.MachO:
		return "ld64.lld", nil
	case obj.COFF:
		return "lld-link", nil
	case obj.Wasm:
		return "wasm-ld", nil
	}
	return "", fmt.Errorf("lld: unknown format %q (want elf, macho, coff or wasm)", f)
}

// Args returns the arguments (without the program) that link objs into out
// in format f.
func Args(f obj.Format, objs []string, out string, extra []string) ([]string, error) {
	var args []string
	switch f {
	case obj.ELF:
		args = []string{"-e", EntrySymbol, "-o", out}
	case obj.MachO:
		args = []string{"-arch", "x86_64", "-platform_version", "macos", "11.0", "11.0", "-e", "_" + EntrySymbol, "-o", out}
	case obj.COFF:
		args = []string{"/entry:" + EntrySymbol, "/subsystem:console", "/nodefaultlib", "/debug:symtab", "/out:" + out}
	case obj.Wasm:
		args = []string{"--no-entry", "--export=" + EntrySymbol, "-o", out}
	default:
		return nil, fmt.Errorf("lld: unknown format %q (want elf, macho, coff or wasm)", f)
	}
	args = append(args, extra...)
	return append(args, objs...), nil
}

// Link links objs into out with the lld linker of format f. On failure the
// error holds the linker's stderr and the reproducer command line; the
// Result is returned whenever the linker ran, so that callers can report it.
func Link(ctx context.Context, f obj.Format, objs []string, out string, opts Options) (*Result, error) {
	if len(objs) == 0 {
		return nil, fmt.Errorf("lld: %s link of %s: no input objects", f, out)
	}
	name, err := Tool(f)
	if err != nil {
		return nil, err
	}
	path, err := tools.Path(name)
	if err != nil {
		return nil, fmt.Errorf("lld: %w", err)
	}
	args, err := Args(f, objs, out, opts.Extra)
	if err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	res := &Result{Cmd: append([]string{path}, args...)}
	run, runErr := measure.Run(ctx, res.Cmd, measure.Options{Timeout: timeout, Peak: opts.MeasurePeak})
	if run != nil {
		res.Stdout, res.Stderr = run.Stdout, run.Stderr
		res.Duration, res.MaxRSSKB, res.CPU = run.Usage.Wall, run.Usage.MaxRSSKB, run.Usage.CPU
	}
	if runErr != nil {
		why := runErr.Error()
		msg := strings.TrimSpace(res.Stderr)
		if msg == "" {
			msg = "(no output on stderr)"
		}
		return res, fmt.Errorf("lld: %s %w (%s):\n%s\ncommand: %s", name, ErrLinkFailed, why, msg, res.Reproducer())
	}
	// A linker that exits 0 is not trusted to have written its output.
	if err := checkOutput(out, f); err != nil {
		return res, fmt.Errorf("lld: %s exited 0 but %v\ncommand: %s", name, err, res.Reproducer())
	}
	return res, nil
}

// checkOutput checks that the linker wrote out, a file of format f.
func checkOutput(out string, f obj.Format) error {
	fh, err := os.Open(out)
	if err != nil {
		return fmt.Errorf("wrote no output: %v", err)
	}
	defer fh.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(fh, head)
	got, err := obj.DetectExecutable(head[:n])
	if err != nil {
		return fmt.Errorf("its output %s is not an executable: %v", out, err)
	}
	if got != f {
		return fmt.Errorf("its output %s is a %s file, not %s", out, got, f)
	}
	return nil
}
