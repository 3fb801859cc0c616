package measure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// Options of Run.
type Options struct {
	// Timeout kills the command and its process group after this long;
	// zero means no timeout but the context's.
	Timeout time.Duration
	// Peak starts the command through the intermediary, so that
	// Usage.MaxRSSKB is the command's own peak (benchmarks). Without it the
	// command is a direct child, as cheap to start as a process can be:
	// its wall and CPU time are still its own, its peak is not measured
	// (zero: a direct child's ru_maxrss includes this process's).
	Peak bool
}

// Result is what a command printed and used.
type Result struct {
	Stdout, Stderr string
	// Usage is the command's own (zero if it did not start); MaxRSSKB
	// only with Options.Peak.
	Usage Usage
	// TimedOut says that Options.Timeout ended the command.
	TimedOut bool
}

// Run runs argv (a program found on PATH when argv[0] has no slash) in its
// own process group, capturing its output. Its error says why the command
// failed: "exit status N", "signal: NAME", "timed out after D", why it
// could not start, or the context's error.
func Run(ctx context.Context, argv []string, o Options) (*Result, error) {
	if len(argv) == 0 {
		return nil, errors.New("measure: empty command")
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	var cmd *exec.Cmd
	var mc *Cmd
	if o.Peak {
		mc = CommandContext(ctx, argv[0], argv[1:]...)
		cmd = mc.Cmd
	} else {
		cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group, killed whole on timeout: a script's children
	// end with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	res := &Result{}
	var err error
	if mc != nil {
		err = mc.Run()
		res.Usage = mc.Usage
	} else {
		start := time.Now()
		err = cmd.Run()
		if ps := cmd.ProcessState; ps != nil {
			res.Usage = Usage{Wall: time.Since(start), CPU: ps.UserTime() + ps.SystemTime()}
		}
	}
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	if err != nil && o.Timeout > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		res.TimedOut = true
		err = fmt.Errorf("timed out after %v", o.Timeout)
	}
	return res, err
}
