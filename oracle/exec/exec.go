// Package exec runs a linked executable and returns the value its program
// computed, under one of several execution oracles: the real CPU and Linux
// loader (native), the Unicorn emulator with linkcheck's own loaders
// (unicorn), a real Windows loader (wine) or a Wasm runtime (wazero).
//
// The protocol between a program and the oracle is fixed by linkcheck's
// design (docs/exec.md):
//
//   - ELF x86_64, static, no libc: the entry stub does write(1, &v, 8) and
//     exit(0) (or exit_group(0)) with the syscall instruction.
//   - Mach-O x86_64 MH_EXECUTE: the same with Darwin syscall numbers
//     (0x2000004 write, 0x2000001 exit).
//   - PE32+ without imports: the entry point returns the value in RAX. Under
//     wine only the process exit code is visible, which is 32 bits wide:
//     such results carry Bits = 32 and compare only the low 32 bits.
//   - Wasm: the export _start, of type () -> i64, returns the value.
package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/linkcheck/linkcheck/oracle/exec/unicorn"
	"github.com/linkcheck/linkcheck/oracle/tools"
	"github.com/linkcheck/linkcheck/ref/input"
	"github.com/linkcheck/linkcheck/ref/obj"
)

// Mode selects an execution oracle.
type Mode string

// Execution oracles.
const (
	Auto    Mode = "auto"    // the most real oracle available for the format
	Native  Mode = "native"  // fork/exec on the host (ELF on linux/amd64)
	Unicorn Mode = "unicorn" // emulation with linkcheck's loaders (ELF, Mach-O, PE)
	Wine    Mode = "wine"    // wine64 (PE)
	Wazero  Mode = "wazero"  // in-process Wasm runtime, its compiler engine (Wasm)
	// WazeroInterp is wazero's interpreter engine: `-exec all` runs a Wasm
	// program under both engines and requires the same value.
	WazeroInterp Mode = "wazero-interp"
)

// Defaults used when Options leaves a field zero.
const (
	DefaultTimeout = 10 * time.Second
	// StackSize is the stack given to programs: the emulator maps this
	// much and native runs get at least this RLIMIT_STACK. Programs may
	// recurse 10,000 frames deep.
	StackSize = 64 << 20
	// MaxOutput bounds what is kept of a program's stdout and stderr.
	MaxOutput = 1 << 20
)

// Options tune a run.
type Options struct {
	// Mode is the oracle; "" means Auto.
	Mode Mode
	// Timeout bounds the run (wall clock); zero means DefaultTimeout.
	// Wine's one-time prefix creation is not counted.
	Timeout time.Duration
	// MaxInsns, when set, is an instruction budget for unicorn runs; zero
	// means none, the timeout bounding the run as it bounds native ones.
	// A budget makes Unicorn call a hook before every instruction, which
	// made the runs of the checked update loop about twice as expensive
	// (docs/benchmarks.md).
	MaxInsns uint64
}

func (o Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

// Result is the outcome of a successful run.
type Result struct {
	// Value is the program's value. When Bits < 64 only the low Bits bits
	// are meaningful (and the rest are zero).
	Value uint64
	// Bits is 64, or 32 for wine, where the value is the process exit code.
	Bits int
	// Oracle is the mode that ran the program (never Auto).
	Oracle Mode
	// Stdout and Stderr are what the program wrote (at most MaxOutput
	// bytes each). For native and unicorn runs Stdout holds the 8 value
	// bytes.
	Stdout, Stderr []byte
	// Duration is the run's wall time, without wine's prefix creation.
	Duration time.Duration
}

// Matches reports whether the low r.Bits bits of the value equal those of
// expected.
func (r *Result) Matches(expected uint64) bool {
	if r.Bits <= 0 || r.Bits >= 64 {
		return r.Value == expected
	}
	mask := uint64(1)<<r.Bits - 1
	return r.Value&mask == expected&mask
}

// String is "0x... (low 32 bits, wine)" or "0x... (unicorn)".
func (r *Result) String() string {
	if r.Bits > 0 && r.Bits < 64 {
		return fmt.Sprintf("%#x (low %d bits, %s)", r.Value, r.Bits, r.Oracle)
	}
	return fmt.Sprintf("%#x (%s)", r.Value, r.Oracle)
}

// Oracles lists the modes that can run a format ("elf", "macho", "coff",
// "wasm") on this host, most real first, whether or not their tools are
// installed.
func Oracles(format obj.Format) []Mode {
	switch format {
	case obj.ELF:
		if nativeSupported() {
			return []Mode{Native, Unicorn}
		}
		return []Mode{Unicorn}
	case obj.MachO:
		return []Mode{Unicorn}
	case obj.COFF:
		return []Mode{Wine, Unicorn}
	case obj.Wasm:
		return []Mode{Wazero, WazeroInterp}
	}
	return nil
}

func nativeSupported() bool { return runtime.GOOS == "linux" && runtime.GOARCH == "amd64" }

// Runner runs executables and owns the expensive, reusable parts of the
// oracles: the launchers of native runs, the loaded libunicorn and a wine
// prefix. Each is made on first use. A Runner is safe for concurrent use; Close it when done (tests share
// one through TestMain).
type Runner struct {
	libOnce sync.Once
	lib     *unicorn.Lib
	libErr  error
	// machines keeps unicorn engines between runs (machine.go).
	machines machines

	wineOnce sync.Once
	wine     *WineRunner
	wineErr  error

	// native keeps the launchers of native runs between runs.
	native launchers

	scratchOnce sync.Once
	scratch     string
	scratchErr  error

	mu     sync.Mutex
	closed bool
}

// NewRunner returns a Runner; it starts nothing until a run needs it.
func NewRunner() *Runner { return &Runner{} }

// Run runs path once with a fresh Runner and closes it. Running several PE
// files under wine this way creates a wine prefix each time (6-8 s): use a
// Runner instead.
func Run(ctx context.Context, path string, opts Options) (*Result, error) {
	r := NewRunner()
	defer r.Close()
	return r.Run(ctx, path, opts)
}

// Close stops the launchers of native runs and releases the wine prefix
// (killing its wineserver) if one was made.
func (r *Runner) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.native.close()
	r.machines.closeAll()
	r.scratchOnce.Do(func() { r.scratchErr = errors.New("exec: runner is closed") })
	if r.scratch != "" {
		_ = os.RemoveAll(r.scratch)
	}
	var err error
	r.wineOnce.Do(func() { r.wineErr = errors.New("exec: runner is closed") })
	if r.wine != nil {
		err = r.wine.Close()
	}
	return err
}

func (r *Runner) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// ScratchDir returns a directory private to the runner, removed by Close,
// for the executables it is to run and the directories of native runs: on
// a RAM file system where there is one (/dev/shm when it is a tmpfs that
// allows exec), else under os.TempDir(). Writing, running and removing an
// executable there costs microseconds where a disk file system with
// discard takes about half a millisecond per rewrite.
func (r *Runner) ScratchDir() (string, error) {
	r.scratchOnce.Do(func() { r.scratch, r.scratchErr = os.MkdirTemp(scratchBase(), "linkcheck-runner-") })
	return r.scratch, r.scratchErr
}

// Unicorn returns the runner's libunicorn, loading it on first use.
func (r *Runner) Unicorn() (*unicorn.Lib, error) {
	r.libOnce.Do(func() {
		path, err := tools.Path("libunicorn")
		if err != nil {
			r.libErr = err
			return
		}
		r.lib, r.libErr = unicorn.Open(path)
	})
	return r.lib, r.libErr
}

// Wine returns the runner's wine runner, creating its prefix directory on
// first use (the prefix itself is initialized by the first run).
func (r *Runner) Wine() (*WineRunner, error) {
	r.wineOnce.Do(func() { r.wine, r.wineErr = NewWineRunner() })
	return r.wine, r.wineErr
}

// Run runs the executable at path and returns its value.
func (r *Runner) Run(ctx context.Context, path string, opts Options) (*Result, error) {
	if r.isClosed() {
		return nil, fmt.Errorf("exec: %s: runner is closed", path)
	}
	data, err := readBounded(path)
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	return r.run(ctx, path, data, true, opts)
}

// RunBytes runs the executable data (named name in messages) and returns
// its value: the emulators and wazero run it from memory; a native or
// wine run writes it to a file of the scratch directory first, removed
// after the run.
func (r *Runner) RunBytes(ctx context.Context, name string, data []byte, opts Options) (*Result, error) {
	if r.isClosed() {
		return nil, fmt.Errorf("exec: %s: runner is closed", name)
	}
	if int64(len(data)) > MaxFileSize {
		return nil, fmt.Errorf("exec: %s: %d bytes, more than the %d an executable may have", name, len(data), int64(MaxFileSize))
	}
	return r.run(ctx, name, data, false, opts)
}

// run runs data, which is the file at path when onDisk is set; otherwise
// path is only a name (RunBytes) and a mode that needs a file writes one.
func (r *Runner) run(ctx context.Context, path string, data []byte, onDisk bool, opts Options) (*Result, error) {
	format, err := obj.DetectExecutable(data)
	if err != nil {
		return nil, fmt.Errorf("exec: %s: %w", path, err)
	}
	mode, err := r.pick(format, opts.Mode)
	if err != nil {
		return nil, fmt.Errorf("exec: %s: %w", path, err)
	}
	exe := path // the file of the modes that run one
	if !onDisk && mode == Wine {
		var remove func()
		if exe, remove, err = r.scratchFile(path, data); err != nil {
			return nil, fmt.Errorf("exec: %s (%s, %s): %w", path, format, mode, err)
		}
		defer remove()
	}
	start := time.Now()
	var res *Result
	switch mode {
	case Native:
		var dir string
		if dir, err = r.ScratchDir(); err == nil {
			exe := executable{name: filepath.Base(path), data: data}
			if onDisk {
				exe.path = path
			} else {
				exe.scratch = func() (string, func(), error) { return r.scratchFile(path, data) }
			}
			res, err = r.native.native(ctx, exe, opts, dir)
		}
	case Unicorn:
		res, err = r.runUnicorn(ctx, data, opts)
	case Wine:
		var w *WineRunner
		if w, err = r.Wine(); err == nil {
			res, err = w.Run(ctx, exe, opts)
		}
	case Wazero:
		res, err = RunWasm(ctx, data, WazeroCompiler, opts)
	case WazeroInterp:
		res, err = RunWasm(ctx, data, WazeroInterpreter, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("exec: %s (%s, %s): %w", path, format, mode, err)
	}
	res.Oracle = mode
	res.Duration = time.Since(start)
	return res, nil
}

// scratchFile writes data to a new executable file of the scratch
// directory, its name ending as name's does; the function removes it.
func (r *Runner) scratchFile(name string, data []byte) (string, func(), error) {
	dir, err := r.ScratchDir()
	if err != nil {
		return "", nil, err
	}
	f, err := os.CreateTemp(dir, "run-*-"+filepath.Base(name))
	if err != nil {
		return "", nil, err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o755)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", nil, err
	}
	return f.Name(), func() { os.Remove(f.Name()) }, nil
}

// pick resolves Auto and checks that an explicit mode can run the format.
func (r *Runner) pick(format obj.Format, m Mode) (Mode, error) {
	ok := Oracles(format)
	if m == "" || m == Auto {
		if format == obj.COFF {
			if _, err := tools.Find("wine64"); err != nil {
				return Unicorn, nil
			}
		}
		if len(ok) == 0 {
			return "", fmt.Errorf("no oracle runs %s", format)
		}
		return ok[0], nil
	}
	for _, o := range ok {
		if o == m {
			return m, nil
		}
	}
	switch m {
	case Native, Unicorn, Wine, Wazero, WazeroInterp:
		return "", fmt.Errorf("oracle %s %w a %s executable on %s/%s (it can: %v)", m, ErrCannotRun, format, runtime.GOOS, runtime.GOARCH, ok)
	}
	return "", fmt.Errorf("%w %q (want auto, native, unicorn, wine, wazero or wazero-interp)", ErrUnknownOracle, m)
}

// Usage errors of Run: an oracle that does not exist, or that cannot run
// the executable's format. Commands report them as bad usage.
var (
	ErrUnknownOracle = errors.New("unknown oracle")
	ErrCannotRun     = errors.New("cannot run")
)

// ParseMode checks an -exec flag value: a mode, or "all" when all is set.
func ParseMode(s string, all bool) (Mode, error) {
	switch m := Mode(s); m {
	case "", Auto, Native, Unicorn, Wine, Wazero, WazeroInterp:
		return m, nil
	}
	if all && s == "all" {
		return Mode(s), nil
	}
	return "", fmt.Errorf("%w %q (want auto, native, unicorn, wine, wazero or wazero-interp)", ErrUnknownOracle, s)
}

// MaxFileSize bounds the executables Run reads.
const MaxFileSize = 1 << 30

func readBounded(path string) ([]byte, error) { return input.ReadFile(path, MaxFileSize) }

// limitedBuffer keeps the first max bytes written to it and counts the rest.
type limitedBuffer struct {
	buf     []byte
	max     int
	dropped int64
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
		p = p[min(room, len(p)):]
	}
	b.dropped += int64(len(p))
	return n, nil
}

// excerpt shows stderr (or other output) in an error message, bounded.
func excerpt(b []byte) string {
	const max = 2000
	if len(b) == 0 {
		return "(empty)"
	}
	if len(b) > max {
		return fmt.Sprintf("%q... (%d bytes)", b[:max], len(b))
	}
	return fmt.Sprintf("%q", b)
}
