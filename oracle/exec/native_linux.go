//go:build linux

package exec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/linkcheck/linkcheck/oracle/exec/launch"
)

// runNative runs an ELF executable on the host through the launcher of
// package launch, a re-execution of this binary that applies the resource
// limits before the program starts, kills every process the program leaves
// behind, and enforces the timeout. Its containment is launch.Jail when this
// process is root (a new PID and mount namespace, a chroot into a tmpfs, no
// capabilities) and launch.Plain otherwise (limits, a subreaper, an empty
// environment and stdin, a private temporary working directory).
func runNative(ctx context.Context, path string, opts Options) (*Result, error) {
	mode := launch.Plain
	if os.Geteuid() == 0 {
		mode = launch.Jail
	}
	return runContained(ctx, path, opts, mode)
}

// backstop is how long past its timeout the launcher has to report before
// it is killed (with its process group, or its namespace in launch.Jail).
const backstop = 5 * time.Second

// runContained runs path through the launcher in the given mode.
func runContained(ctx context.Context, path string, opts Options, mode string) (*Result, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "linkcheck-run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	timeout := opts.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout+backstop)
	defer cancel()

	statusR, statusW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer statusR.Close()
	stdout := &limitedBuffer{max: MaxOutput}
	stderr := &limitedBuffer{max: MaxOutput}
	cmd := osexec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = launch.Args(mode, timeout, StackSize, dir, abs, filepath.Base(abs))
	cmd.Env = []string{}
	cmd.Stdin = nil // /dev/null: empty
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = []*os.File{statusW} // launch.StatusFD
	// The launcher cleans up when it is told to stop, or when this thread
	// dies; past WaitDelay os/exec kills it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if mode == launch.Jail {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWPID | syscall.CLONE_NEWNS
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	statusW.Close()
	if err != nil {
		return nil, fmt.Errorf("start launcher: %w", err)
	}
	waitErr := cmd.Wait()
	if waitErr != nil && !errors.Is(waitErr, osexec.ErrWaitDelay) {
		// The launcher itself failed (killed past the backstop): its
		// process group goes with it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	line, _ := io.ReadAll(io.LimitReader(statusR, 4096))
	status := strings.TrimSpace(string(line))
	res := &Result{Bits: 64, Stdout: stdout.buf, Stderr: stderr.buf}
	var st syscall.WaitStatus
	switch word, rest, _ := strings.Cut(status, " "); word {
	case "exit":
		n, perr := strconv.ParseUint(rest, 10, 32)
		if perr != nil {
			return nil, fmt.Errorf("launcher: bad status %q", status)
		}
		st = syscall.WaitStatus(n)
	case "timeout":
		return nil, fmt.Errorf("did not finish within %v (killed); stderr: %s", timeout, excerpt(res.Stderr))
	case "error":
		return nil, errors.New(rest)
	default: // "cancel SIGNAL", or nothing from a launcher that was killed
		if ctx.Err() != nil {
			return nil, fmt.Errorf("cancelled: %w", ctx.Err())
		}
		return nil, fmt.Errorf("launcher: status %q (%v); stderr: %s", status, waitErr, excerpt(res.Stderr))
	}
	switch {
	case st.Signaled():
		sig := st.Signal()
		what := unix.SignalName(sig)
		if what == "" {
			what = fmt.Sprintf("signal %d", int(sig))
		}
		if sig == syscall.SIGXCPU {
			what += " (CPU time limit)"
		}
		if st.CoreDump() {
			what += " (core dumped)"
		}
		return nil, fmt.Errorf("killed by %s; stdout %d bytes; stderr: %s", what, len(res.Stdout), excerpt(res.Stderr))
	case st.ExitStatus() != 0:
		return nil, fmt.Errorf("exit status %d (want 0); stdout %d bytes; stderr: %s", st.ExitStatus(), len(res.Stdout), excerpt(res.Stderr))
	}
	if len(res.Stdout) != 8 || stdout.dropped != 0 {
		return nil, fmt.Errorf("wrote %d bytes to stdout, want exactly 8 (the little-endian value): %s; stderr: %s",
			int64(len(res.Stdout))+stdout.dropped, excerpt(res.Stdout), excerpt(res.Stderr))
	}
	res.Value = binary.LittleEndian.Uint64(res.Stdout)
	return res, nil
}
