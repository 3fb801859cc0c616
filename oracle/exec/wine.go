package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/linkcheck/linkcheck/oracle/tools"
)

// WineRunner runs PE images under wine64 in a private WINEPREFIX that it
// creates on first use (6-8 s) and reuses for every later run (~0.1-0.5 s).
// Runs are serialized: a timeout kills every process of the prefix
// (wineserver -k), which would take concurrent runs with it. Close removes
// the prefix.
//
// Wine reports a program's value as the process exit code. Windows exit
// codes are 32 bits but a Linux exit status has only 8, so the program is
// started from a batch file that echoes %ERRORLEVEL% (the full 32-bit code)
// after it: results have Bits = 32.
type WineRunner struct {
	wine, server string
	prefix       string // WINEPREFIX; its parent dir holds run directories

	initOnce sync.Once
	initErr  error

	mu         sync.Mutex // serializes runs and Close
	closed     bool
	serverDown bool // a timeout killed the persistent wineserver
}

// WineInitTimeout bounds the creation of the wine prefix.
const WineInitTimeout = 3 * time.Minute

// NewWineRunner finds wine64 and makes a temporary directory for the
// prefix; the prefix is created by the first run.
func NewWineRunner() (*WineRunner, error) {
	wine, err := tools.Path("wine64")
	if err != nil {
		return nil, err
	}
	server := filepath.Join(filepath.Dir(wine), "wineserver")
	if _, err := os.Stat(server); err != nil {
		server = ""
	}
	dir, err := os.MkdirTemp("", "linkcheck-wine-")
	if err != nil {
		return nil, err
	}
	return &WineRunner{wine: wine, server: server, prefix: filepath.Join(dir, "prefix")}, nil
}

// Prefix returns the WINEPREFIX directory.
func (w *WineRunner) Prefix() string { return w.prefix }

func (w *WineRunner) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "DISPLAY", "WAYLAND_DISPLAY", "WINEPREFIX", "WINEDEBUG", "WINEDLLOVERRIDES", "WINEARCH":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"WINEPREFIX="+w.prefix,
		"WINEDEBUG=-all",
		// No Mono or Gecko installer dialogs when the prefix is created.
		"WINEDLLOVERRIDES=mscoree,mshtml=",
	)
}

// command builds a wine command in its own process group whose
// cancellation kills the group and every process of the prefix.
func (w *WineRunner) command(ctx context.Context, dir string, args ...string) *osexec.Cmd {
	cmd := osexec.CommandContext(ctx, w.wine, args...)
	cmd.Dir = dir
	cmd.Env = w.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		w.killServer()
		w.serverDown = true
		return nil
	}
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// killServer kills every process of the prefix (wineserver -k).
func (w *WineRunner) killServer() {
	if w.server == "" {
		return
	}
	cmd := osexec.Command(w.server, "-k")
	cmd.Env = w.env()
	_ = cmd.Run()
}

// init creates the prefix (wineboot) once and starts a persistent
// wineserver for it, so that later runs do not pay for starting one.
func (w *WineRunner) init(ctx context.Context) error {
	w.initOnce.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, WineInitTimeout)
		defer cancel()
		dir := filepath.Dir(w.prefix)
		cmd := w.command(ctx, dir, "wineboot", "--init")
		out, errOut, err := runToFiles(cmd, dir)
		if err != nil {
			w.initErr = fmt.Errorf("wine: creating prefix %s: %w: %s %s", w.prefix, err, excerpt(out), excerpt(errOut))
			return
		}
		// A crash must end the process at once: point the post-mortem
		// debugger at a program that does not exist instead of winedbg,
		// which would print a backtrace (slow, and on stdout).
		const aedebug = `HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug`
		for _, kv := range [][2]string{{"Debugger", "linkcheck-no-debugger.exe"}, {"Auto", "1"}} {
			cmd := w.command(ctx, dir, "reg", "add", aedebug, "/v", kv[0], "/t", "REG_SZ", "/d", kv[1], "/f")
			if out, errOut, err := runToFiles(cmd, dir); err != nil {
				w.initErr = fmt.Errorf("wine: setting AeDebug\\%s: %w: %s %s", kv[0], err, excerpt(out), excerpt(errOut))
				return
			}
		}
		w.startServer()
	})
	return w.initErr
}

// startServer starts a persistent wineserver for the prefix (best effort:
// without it runs are only slower, since each starts its own server).
func (w *WineRunner) startServer() {
	if w.server == "" {
		return
	}
	srv := osexec.Command(w.server, "-p")
	srv.Env = w.env()
	srv.Dir = filepath.Dir(w.prefix)
	_ = srv.Run() // the server daemonizes; Run returns at once
	w.serverDown = false
}

// runToFiles runs cmd with stdout and stderr sent to files in dir and
// returns what they hold (at most MaxOutput bytes each). Files, not pipes:
// wine leaves daemons (wineserver, services) that inherit the descriptors,
// and a pipe would stay open until they exit.
func runToFiles(cmd *osexec.Cmd, dir string) (stdout, stderr []byte, err error) {
	fo, err := os.CreateTemp(dir, "stdout-")
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(fo.Name())
	defer fo.Close()
	fe, err := os.CreateTemp(dir, "stderr-")
	if err != nil {
		return nil, nil, err
	}
	defer os.Remove(fe.Name())
	defer fe.Close()
	cmd.Stdout, cmd.Stderr = fo, fe
	runErr := cmd.Run()
	read := func(f *os.File) []byte {
		b := make([]byte, MaxOutput)
		n, _ := f.ReadAt(b, 0)
		return b[:n]
	}
	return read(fo), read(fe), runErr
}

// Run runs the PE image at path and returns its exit code as the value's
// low 32 bits. A crash (wine's "Unhandled exception" report), a timeout or a
// malformed report is an error.
func (w *WineRunner) Run(ctx context.Context, path string, opts Options) (*Result, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, errors.New("wine: runner is closed")
	}
	if err := w.init(ctx); err != nil {
		return nil, err
	}
	if w.serverDown {
		w.startServer()
	}
	data, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(filepath.Dir(w.prefix), "run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// Copy the program next to a batch file, under fixed names, so that no
	// character of the caller's path needs quoting for cmd.exe.
	if err := os.WriteFile(filepath.Join(dir, "prog.exe"), data, 0o755); err != nil {
		return nil, err
	}
	winDir := "Z:" + strings.ReplaceAll(dir, "/", `\`)
	bat := "@echo off\r\n" + winDir + `\prog.exe` + "\r\necho linkcheck-exit-code %ERRORLEVEL%\r\n"
	if err := os.WriteFile(filepath.Join(dir, "run.bat"), []byte(bat), 0o644); err != nil {
		return nil, err
	}

	timeout := opts.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var stdout, stderr []byte
	var runErr error
	for attempt := 1; ; attempt++ {
		cmd := w.command(ctx, dir, "cmd", "/c", winDir+`\run.bat`)
		stdout, stderr, runErr = runToFiles(cmd, dir)
		if ctx.Err() != nil || !cmdNotStarted(stdout, stderr) || attempt == wineStartAttempts {
			break
		}
		// cmd.exe did not start or did not run the batch to its end,
		// and the program did not crash: running the (deterministic)
		// program again is safe. Start from a fresh wineserver.
		w.killServer()
		w.startServer()
	}
	res := &Result{Bits: 32, Stdout: stdout, Stderr: stderr}
	if ctx.Err() == nil && cmdNotStarted(stdout, stderr) {
		return nil, fmt.Errorf("wine: cmd.exe could not be started in %d attempts; stdout: %s; stderr: %s", wineStartAttempts, excerpt(stdout), excerpt(stderr))
	}
	// cmd reports a file it cannot run (not a PE image wine loads) as an
	// unknown command, with ERRORLEVEL 9009: that is no exit code of the
	// program.
	if i := bytes.Index(stderr, []byte("Can't recognize '")); i >= 0 {
		line, _, _ := bytes.Cut(stderr[i:], []byte("\n"))
		return nil, fmt.Errorf("wine: not a program wine can load: %s", bytes.TrimSpace(line))
	}
	// wine reports an unhandled exception on stderr ("wine: Unhandled page
	// fault on read access to ... at address ...").
	crash := ""
	if i := bytes.Index(res.Stderr, []byte("Unhandled")); i >= 0 {
		line, _, _ := bytes.Cut(res.Stderr[i:], []byte("\n"))
		crash = string(bytes.TrimSpace(line))
	}
	if ctx.Err() != nil {
		if crash != "" {
			return nil, fmt.Errorf("wine: crashed: %s (and then did not exit within %v)", crash, timeout)
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("wine: did not finish within %v (killed the prefix's processes); stderr: %s", timeout, excerpt(res.Stderr))
		}
		return nil, fmt.Errorf("wine: cancelled: %w", ctx.Err())
	}
	if crash != "" {
		return nil, fmt.Errorf("wine: crashed: %s", crash)
	}
	code, ok := parseExitCode(res.Stdout)
	if !ok {
		if runErr != nil {
			return nil, fmt.Errorf("wine: %w; stdout: %s; stderr: %s", runErr, excerpt(res.Stdout), excerpt(res.Stderr))
		}
		return nil, fmt.Errorf("wine: no exit code in the output; stdout: %s; stderr: %s", excerpt(res.Stdout), excerpt(res.Stderr))
	}
	res.Value = uint64(code)
	return res, nil
}

// wineStartAttempts bounds the runs of one program when cmd.exe itself
// fails to start (a transient failure of wine's loader under load).
const wineStartAttempts = 3

// cmdNotStarted reports whether the output says that wine could not start
// cmd.exe or did not run the batch file to its end: no exit code line
// (which the batch prints whenever it runs, whatever the program's exit
// status), and no crash report of the program. Seen under load as the
// loader's "ShellExecuteEx failed" message, and as wine exiting 1 with no
// output at all.
func cmdNotStarted(stdout, stderr []byte) bool {
	if _, ok := parseExitCode(stdout); ok {
		return false
	}
	return !bytes.Contains(stderr, []byte("Unhandled")) && !bytes.Contains(stderr, []byte("Can't recognize '"))
}

// parseExitCode finds the batch file's "linkcheck-exit-code N" line. cmd
// prints %ERRORLEVEL% as a signed 32-bit decimal.
func parseExitCode(out []byte) (uint32, bool) {
	const tag = "linkcheck-exit-code "
	i := bytes.LastIndex(out, []byte(tag))
	if i < 0 {
		return 0, false
	}
	field, _, _ := bytes.Cut(out[i+len(tag):], []byte("\n"))
	n, err := strconv.ParseInt(strings.TrimSpace(string(field)), 10, 64)
	if err != nil || n < -1<<31 || n > 1<<32-1 {
		return 0, false
	}
	return uint32(n), true
}

// Close kills the prefix's wineserver and removes the prefix.
func (w *WineRunner) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if _, err := os.Stat(w.prefix); err == nil {
		w.killServer()
	}
	if err := os.RemoveAll(filepath.Dir(w.prefix)); err != nil {
		return fmt.Errorf("wine: removing prefix: %w", err)
	}
	return nil
}
