//go:build linux

package exec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// startNative starts abs in dir. A start that fails with ETXTBSY is
// retried: when another goroutine of this process forks while the file
// was still open for writing, the child holds the write descriptor until
// it execs, and the kernel refuses to execute the file meanwhile
// (golang/go#22315). The refusal lasts only until that child execs.
func startNative(ctx context.Context, abs, dir string, stdout, stderr *limitedBuffer) (*osexec.Cmd, error) {
	for attempt := 1; ; attempt++ {
		cmd := osexec.CommandContext(ctx, abs)
		cmd.Args = []string{filepath.Base(abs)}
		cmd.Dir = dir
		cmd.Env = []string{}
		cmd.Stdin = nil // /dev/null: empty
		cmd.Stdout, cmd.Stderr = stdout, stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		cmd.Cancel = func() error {
			// Kill the whole process group, not only the direct child.
			return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		cmd.WaitDelay = time.Second
		err := cmd.Start()
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || attempt == etxtbsyAttempts {
			return cmd, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Duration(attempt) * 10 * time.Millisecond):
		}
	}
}

// etxtbsyAttempts bounds the starts of an executable the kernel reports
// busy (about 4.5 s of waiting in all).
const etxtbsyAttempts = 30

// runNative runs an ELF executable on the host: a new process group, an
// empty environment and stdin, a private temporary directory as the working
// directory, resource limits, and a wall-clock timeout that kills the whole
// process group.
//
// The limits are applied with prlimit(2) right after the child starts
// (os/exec cannot set them between fork and exec). The stack limit still
// governs every stack growth, since Linux checks RLIMIT_STACK when the stack
// grows, and the CPU limit backs up the timeout.
func runNative(ctx context.Context, path string, opts Options) (*Result, error) {
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
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	stdout := &limitedBuffer{max: MaxOutput}
	stderr := &limitedBuffer{max: MaxOutput}
	cmd, err := startNative(ctx, abs, dir, stdout, stderr)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	limErr := setLimits(cmd.Process.Pid, timeout)
	if limErr != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	waitErr := cmd.Wait()
	if limErr != nil {
		return nil, limErr
	}
	res := &Result{Bits: 64, Stdout: stdout.buf, Stderr: stderr.buf}
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("did not finish within %v (killed); stderr: %s", timeout, excerpt(res.Stderr))
		}
		return nil, fmt.Errorf("cancelled: %w", ctx.Err())
	}
	st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok {
		if waitErr != nil {
			return nil, waitErr
		}
		return nil, errors.New("no wait status")
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
	case waitErr != nil:
		return nil, waitErr
	}
	if len(res.Stdout) != 8 || stdout.dropped != 0 {
		return nil, fmt.Errorf("wrote %d bytes to stdout, want exactly 8 (the little-endian value): %s; stderr: %s",
			int64(len(res.Stdout))+stdout.dropped, excerpt(res.Stdout), excerpt(res.Stderr))
	}
	res.Value = binary.LittleEndian.Uint64(res.Stdout)
	return res, nil
}

// setLimits applies the run's resource limits to pid.
func setLimits(pid int, timeout time.Duration) error {
	cpu := uint64(timeout/time.Second) + 1
	limits := []struct {
		name     string
		resource int
		cur      uint64
	}{
		{"RLIMIT_CPU", unix.RLIMIT_CPU, cpu},
		{"RLIMIT_AS", unix.RLIMIT_AS, 8 << 30},
		{"RLIMIT_STACK", unix.RLIMIT_STACK, 4 * StackSize},
		{"RLIMIT_CORE", unix.RLIMIT_CORE, 0},
		{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE, 64 << 20},
	}
	for _, l := range limits {
		var old unix.Rlimit
		if err := unix.Prlimit(pid, l.resource, nil, &old); err != nil {
			return fmt.Errorf("prlimit %s: %w", l.name, err)
		}
		cur := min(l.cur, old.Max)
		if l.resource == unix.RLIMIT_STACK && cur < StackSize {
			return fmt.Errorf("prlimit RLIMIT_STACK: hard limit %d is below the %d MiB programs need", old.Max, StackSize>>20)
		}
		// Lower the hard CPU limit too, so that SIGKILL follows SIGXCPU.
		max := old.Max
		if l.resource == unix.RLIMIT_CPU {
			max = min(old.Max, cur+1)
		}
		nl := unix.Rlimit{Cur: cur, Max: max}
		if err := unix.Prlimit(pid, l.resource, &nl, nil); err != nil {
			return fmt.Errorf("prlimit %s=%d: %w", l.name, cur, err)
		}
	}
	return nil
}
