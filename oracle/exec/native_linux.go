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
// capabilities), launch.UserJail otherwise (the same inside a new user
// namespace), and launch.Plain (limits, a subreaper, an empty environment
// and stdin, a private temporary working directory) only when the kernel
// refuses this user a user namespace or the mounts in it.
func runNative(ctx context.Context, path string, opts Options) (*Result, error) {
	if os.Geteuid() == 0 {
		return runContained(ctx, path, opts, launch.Jail)
	}
	res, err := runContained(ctx, path, opts, launch.UserJail)
	var refused *userNamespaceRefused
	if errors.As(err, &refused) {
		return runContained(ctx, path, opts, launch.Plain)
	}
	return res, err
}

// userNamespaceRefused is the error of a launch.UserJail run that the
// kernel did not let start: no user namespace, or no mount in it.
type userNamespaceRefused struct{ err error }

func (e *userNamespaceRefused) Error() string {
	return "user namespace refused: " + e.err.Error()
}

func (e *userNamespaceRefused) Unwrap() error { return e.err }

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
	switch mode {
	case launch.Jail:
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWPID | syscall.CLONE_NEWNS
	case launch.UserJail:
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID | syscall.CLONE_NEWNS
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	statusW.Close()
	if err != nil {
		if mode == launch.UserJail {
			return nil, &userNamespaceRefused{err}
		}
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
		if mode == launch.UserJail && strings.HasPrefix(rest, "jail: ") {
			return nil, &userNamespaceRefused{errors.New(rest)}
		}
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
