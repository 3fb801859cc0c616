// Package measure runs a command and measures it alone: its wall time,
// CPU time and peak resident set size, without the caller's.
//
// The peak a parent reads from its child's rusage (ru_maxrss) is not the
// child's own: the kernel records the memory map's high-water mark at
// exec, and a child forked (or vforked) from linkcheck starts with
// linkcheck's map, so a /bin/true started from a process holding 500 MB
// reports a peak of 500 MB. ld.lld's peak read that way was linkcheck's
// whenever linkcheck was larger (bench link and bench diff at 100,000
// functions reported "lld peak" equal to linkcheck's own to 0.1%). A
// measured command is therefore started by a small intermediary — a
// re-execution of this binary, entered from this package's init when
// argv[0] is Arg0 — that forks the command from its own few megabytes,
// waits for it and reports the command's rusage and wall time on a pipe.
package measure

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Arg0 is the argv[0] that makes a binary linking this package act as the
// intermediary.
const Arg0 = "linkcheck-measure"

// reportFD is the intermediary's descriptor for its one-line report.
const reportFD = 3

func init() {
	if len(os.Args) == 0 || os.Args[0] != Arg0 {
		return
	}
	os.Exit(intermediary(os.Args[1:]))
}

// Usage is what a measured command used, itself alone.
type Usage struct {
	Wall     time.Duration
	CPU      time.Duration // user and system
	MaxRSSKB int64
}

// Cmd is a command to be run through the intermediary. Set Stdout, Stderr,
// Env, Dir, SysProcAttr, Cancel and WaitDelay on Cmd as on an exec.Cmd;
// Run fills Usage.
type Cmd struct {
	*exec.Cmd
	// Usage is the command's, once Run returned (zero if it did not run).
	Usage Usage
}

// CommandContext returns a Cmd that runs path with args (args exclude
// argv[0], as for exec.CommandContext).
func CommandContext(ctx context.Context, path string, args ...string) *Cmd {
	if !strings.Contains(path, "/") {
		if p, err := exec.LookPath(path); err == nil {
			path = p
		}
	}
	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = append([]string{Arg0, path}, args...)
	return &Cmd{Cmd: cmd}
}

// Run starts the command through the intermediary and waits for it. Its
// error is the command's: "exit status N", "signal: NAME", or why it could
// not start; a context error as exec.Cmd reports it.
func (c *Cmd) Run() error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	c.ExtraFiles = append([]*os.File{w}, c.ExtraFiles...)
	err = c.Start()
	w.Close()
	if err != nil {
		return err
	}
	report, _ := io.ReadAll(io.LimitReader(r, 4096))
	waitErr := c.Wait()
	line := strings.TrimSpace(string(report))
	status, usage, perr := parseReport(line)
	if perr != nil {
		if waitErr != nil && !strings.HasPrefix(line, "error ") {
			return waitErr // killed on its context, or the intermediary failed
		}
		return perr
	}
	c.Usage = usage
	switch {
	case status.Signaled():
		return fmt.Errorf("signal: %v", status.Signal())
	case status.ExitStatus() != 0:
		return fmt.Errorf("exit status %d", status.ExitStatus())
	}
	return waitErr
}

// parseReport reads "ok STATUS WALLNS CPUNS MAXRSSKB" or "error TEXT".
func parseReport(line string) (syscall.WaitStatus, Usage, error) {
	word, rest, _ := strings.Cut(line, " ")
	switch word {
	case "ok":
		f := strings.Fields(rest)
		if len(f) != 4 {
			break
		}
		var n [4]int64
		for i, s := range f {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return 0, Usage{}, fmt.Errorf("measure: bad report %q", line)
			}
			n[i] = v
		}
		return syscall.WaitStatus(n[0]), Usage{Wall: time.Duration(n[1]), CPU: time.Duration(n[2]), MaxRSSKB: n[3]}, nil
	case "error":
		return 0, Usage{}, errors.New(rest)
	}
	return 0, Usage{}, fmt.Errorf("measure: bad report %q", line)
}

// intermediary runs args (path first, then its arguments) and reports.
func intermediary(args []string) int {
	report := os.NewFile(reportFD, "report")
	if report == nil || len(args) == 0 {
		return 126
	}
	syscall.CloseOnExec(reportFD)
	start := time.Now()
	pid, err := syscall.ForkExec(args[0], args, &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}})
	if err != nil {
		fmt.Fprintf(report, "error %s: %v\n", args[0], err)
		return 127
	}
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	for {
		_, err = syscall.Wait4(pid, &ws, 0, &ru)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	wall := time.Since(start)
	if err != nil {
		fmt.Fprintf(report, "error wait %s: %v\n", args[0], err)
		return 127
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	fmt.Fprintf(report, "ok %d %d %d %d\n", uint32(ws), wall.Nanoseconds(), cpu.Nanoseconds(), ru.Maxrss)
	return 0
}
