//go:build linux

package launch

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Arg0 is the argv[0] that makes a linkcheck binary act as the launcher.
const Arg0 = "linkcheck-native-launcher"

// Modes of containment.
const (
	// Plain: limits, the subreaper, a private working directory.
	Plain = "plain"
	// Jail: Plain, and the launcher is the init of a new PID and mount
	// namespace (the caller passes CLONE_NEWPID|CLONE_NEWNS) that runs the
	// program chroot-ed into a tmpfs without capabilities. Needs root.
	Jail = "jail"
	// UserJail: Jail inside a new user namespace in which the launcher is
	// root (the caller also passes CLONE_NEWUSER and maps its own uid and
	// gid to 0), so that a user who is not root gets the same containment
	// wherever the kernel allows unprivileged user namespaces.
	UserJail = "userjail"
)

// StatusFD is the launcher's descriptor on which it writes its one-line
// status: "exit N" (N the program's raw wait status), "timeout", "cancel
// SIGNAL" or "error TEXT".
const StatusFD = 3

// JailFS bounds what a jailed program can write, all files together.
const JailFS = "size=64m,nr_inodes=1024,mode=0755"

// Limit is one resource limit the launcher sets before it starts the
// program; the soft limit is lowered to Cur (never raised past the hard
// limit), and for RLIMIT_CPU the hard limit to Cur+1 so that SIGKILL
// follows SIGXCPU.
type Limit struct {
	Name     string
	Resource int
	Cur      uint64
}

// Limits are the resource limits of a run with the given timeout; stack is
// the least stack the programs need (it is given 4 times that).
func Limits(timeout time.Duration, stack uint64) []Limit {
	return []Limit{
		{"RLIMIT_CPU", unix.RLIMIT_CPU, uint64(timeout/time.Second) + 1},
		{"RLIMIT_AS", unix.RLIMIT_AS, 8 << 30},
		{"RLIMIT_STACK", unix.RLIMIT_STACK, 4 * stack},
		{"RLIMIT_CORE", unix.RLIMIT_CORE, 0},
		{"RLIMIT_FSIZE", unix.RLIMIT_FSIZE, 64 << 20},
	}
}

// Args is the launcher's command line (argv, starting with Arg0) to run
// prog, with argv[0] name, in dir, for at most timeout, with at least stack
// bytes of stack.
func Args(mode string, timeout time.Duration, stack uint64, dir, prog, name string) []string {
	return []string{Arg0, mode, timeout.String(), strconv.FormatUint(stack, 10), dir, prog, name}
}

func init() {
	if len(os.Args) == 0 || os.Args[0] != Arg0 {
		return
	}
	os.Exit(launcherMain(os.Args[1:]))
}

// etxtbsyAttempts bounds the starts of an executable the kernel reports
// busy (about 4.5 s of waiting in all): when another goroutine of linkcheck
// forks while the file was still open for writing, that child holds the
// write descriptor until it execs (golang/go#22315).
const etxtbsyAttempts = 30

func launcherMain(args []string) int {
	// The capability and no_new_privs settings are per thread: the program
	// is forked from this one.
	runtime.LockOSThread()
	syscall.CloseOnExec(StatusFD)
	status := os.NewFile(StatusFD, "status")
	res := launch(args)
	if _, err := status.WriteString(res + "\n"); err != nil {
		return 3
	}
	return 0
}

// launch runs the program as args say and returns the status line.
func launch(args []string) string {
	if len(args) != 6 {
		return fmt.Sprintf("error launcher: %d arguments, want 6", len(args))
	}
	mode, dir, prog, name := args[0], args[3], args[4], args[5]
	timeout, err := time.ParseDuration(args[1])
	if err != nil {
		return "error launcher: " + err.Error()
	}
	stack, err := strconv.ParseUint(args[2], 10, 64)
	if err != nil {
		return "error launcher: " + err.Error()
	}
	attr := &syscall.ProcAttr{
		Dir:   dir,
		Env:   []string{},
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	path := prog
	switch mode {
	case Jail, UserJail:
		if err := jail(dir, prog); err != nil {
			return "error jail: " + err.Error()
		}
		path, attr.Dir, attr.Sys.Chroot = "/prog", "/", dir
	case Plain:
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return "error prctl PR_SET_CHILD_SUBREAPER: " + err.Error()
		}
	default:
		return fmt.Sprintf("error launcher: unknown mode %q", mode)
	}
	if err := setLimits(Limits(timeout, stack), stack); err != nil {
		return "error " + err.Error()
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	var pid int
	for attempt := 1; ; attempt++ {
		pid, err = syscall.ForkExec(path, []string{name}, attr)
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || attempt == etxtbsyAttempts {
			break
		}
		time.Sleep(time.Duration(attempt) * 10 * time.Millisecond)
	}
	if err != nil {
		return "error start: " + err.Error()
	}
	done := make(chan unix.WaitStatus, 1)
	go func() {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		done <- ws
	}()
	timer := time.NewTimer(timeout)
	var res string
	select {
	case ws := <-done:
		res = "exit " + strconv.FormatUint(uint64(ws), 10)
	case <-timer.C:
		_ = unix.Kill(pid, unix.SIGKILL)
		<-done
		res = "timeout"
	case s := <-sigs:
		_ = unix.Kill(pid, unix.SIGKILL)
		<-done
		res = "cancel " + s.String()
	}
	if mode == Jail || mode == UserJail {
		killNamespace()
	} else {
		killDescendants()
	}
	return res
}

// setLimits lowers this process's limits (the program inherits them).
func setLimits(limits []Limit, stack uint64) error {
	for _, l := range limits {
		var old unix.Rlimit
		if err := unix.Getrlimit(l.Resource, &old); err != nil {
			return fmt.Errorf("getrlimit %s: %w", l.Name, err)
		}
		cur := min(l.Cur, old.Max)
		if l.Resource == unix.RLIMIT_STACK && cur < stack {
			return fmt.Errorf("setrlimit RLIMIT_STACK: hard limit %d is below the %d MiB programs need", old.Max, stack>>20)
		}
		hard := old.Max
		if l.Resource == unix.RLIMIT_CPU {
			hard = min(old.Max, cur+1)
		}
		if err := unix.Setrlimit(l.Resource, &unix.Rlimit{Cur: cur, Max: hard}); err != nil {
			return fmt.Errorf("setrlimit %s=%d: %w", l.Name, cur, err)
		}
	}
	return nil
}

// jail prepares the jailed program's root: private mounts, a tmpfs over
// dir with prog bound read-only at dir/prog, and no capabilities for what
// this thread starts.
func jail(dir, prog string) error {
	if os.Getpid() != 1 {
		return errors.New("the launcher is not the init of a new PID namespace")
	}
	if err := unix.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Mount("linkcheck-run", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, JailFS); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	target := filepath.Join(dir, "prog")
	f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o555)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := unix.Mount(prog, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s: %w", prog, err)
	}
	if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("remount %s read-only: %w", target, err)
	}
	return dropCapabilities()
}

// dropCapabilities empties this thread's bounding, ambient and inheritable
// capability sets and sets no_new_privs, so that a program it starts as
// root holds no capability (its effective set stays, for the chroot).
func dropCapabilities() error {
	for c := 0; c < 64; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			if errors.Is(err, unix.EINVAL) {
				break // past the last capability
			}
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	return nil
}

// killNamespace kills and reaps every other process of the launcher's PID
// namespace (it is the namespace's init).
func killNamespace() {
	for {
		_ = unix.Kill(-1, unix.SIGKILL)
		_, err := unix.Wait4(-1, nil, 0, nil)
		if errors.Is(err, unix.ECHILD) {
			return
		}
	}
}

// killDescendants kills and reaps every descendant of the launcher. As a
// subreaper the launcher inherits the orphans of every process that dies
// below it, so once the program is reaped, every live descendant is in the
// subtree of a child of the launcher: no child (ECHILD) means none is left,
// and /proc is read only when some are. It gives up after killWait (only
// when /proc shows no children although some are left).
func killDescendants() {
	deadline := time.Now().Add(killWait)
	for time.Now().Before(deadline) {
		pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.ECHILD):
			return
		case errors.Is(err, unix.EINTR) || pid > 0:
			continue
		}
		for _, pid := range children() {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// killWait bounds killDescendants.
const killWait = 5 * time.Second

// children lists the launcher's live children, from every thread's
// /proc/self/task/TID/children.
func children() []int {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil
	}
	var pids []int
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", t.Name(), "children"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
