//go:build linux

package launch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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

// ExeFD is, in a jailed launcher (Jail, UserJail), the caller's file that
// holds the executable of each request: a memfd that the caller rewrites
// before each request, whose first SIZE bytes (Request) the launcher
// copies into the jail as /prog. The programs never get it (close on exec).
const ExeFD = 4

// JailFS bounds what a jailed program can write, all files together.
const JailFS = "size=64m,nr_inodes=1024,mode=0755"

// JailBytes is JailFS's size: no executable larger than this fits a jail.
const JailBytes = 64 << 20

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

// Args is the command line (argv, starting with Arg0) of a launcher that
// serves runs in the given mode, each for at most timeout, with at least
// stack bytes of stack: the limits, the namespace (Jail) and the dropped
// capabilities are set up once, and each request of Request runs one
// program. root is, in Jail and UserJail, an empty directory of the
// caller's that the launcher mounts its jail's tmpfs on (in its own mount
// namespace: the caller sees it empty), which the caller removes once the
// launcher has exited; in Plain it is "". The caller starts it with
// Setpgid (and, for Jail, CLONE_NEWPID|CLONE_NEWNS), the request pipe as
// stdin and the status pipe as StatusFD.
func Args(mode string, timeout time.Duration, stack uint64, root string) []string {
	return []string{Arg0, "serve", mode, timeout.String(), strconv.FormatUint(stack, 10), root}
}

// Request is the line that asks a launcher to run a program with argv[0]
// name: in a Plain launcher the executable prog, in dir (an empty
// directory of the caller's, the program's working directory; size is
// ignored); in a jailed one the first size bytes of ExeFD, in the
// launcher's tmpfs (dir and prog are ignored).
func Request(dir, prog, name string, size int64) string {
	return strconv.Quote(dir) + " " + strconv.Quote(prog) + " " + strconv.Quote(name) + " " + strconv.FormatInt(size, 10) + "\n"
}

// Response is what a launcher reports about one run on StatusFD: a status
// line ("exit N" with N the program's raw wait status, "timeout", "cancel
// SIGNAL" or "error TEXT"), then a line "OUT OUTDROPPED ERR ERRDROPPED
// RETIRE" giving the number of bytes of stdout and stderr that follow
// (kept, and dropped past MaxOutput), and whether the launcher exits
// after this run (1) or serves another (0), then the bytes.
type Response struct {
	Status         string
	Stdout, Stderr []byte
	// Dropped counts the bytes of each stream past MaxOutput.
	OutDropped, ErrDropped int64
	// Retire is set when the launcher has exited after this run.
	Retire bool
}

// MaxOutput bounds what a launcher keeps of a program's stdout and of its
// stderr.
const MaxOutput = 1 << 20

// ReadResponse reads one Response from a launcher's status stream.
func ReadResponse(r *bufio.Reader) (*Response, error) {
	status, err := r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("launcher status: %w", err)
	}
	sizes, err := r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("launcher status %q: sizes: %w", strings.TrimSpace(status), err)
	}
	res := &Response{Status: strings.TrimSpace(status)}
	var nout, nerr, retire int
	if _, err := fmt.Sscan(sizes, &nout, &res.OutDropped, &nerr, &res.ErrDropped, &retire); err != nil || nout < 0 || nerr < 0 || nout > MaxOutput || nerr > MaxOutput {
		return nil, fmt.Errorf("launcher status %q: bad sizes %q", res.Status, strings.TrimSpace(sizes))
	}
	res.Retire = retire != 0
	res.Stdout, res.Stderr = make([]byte, nout), make([]byte, nerr)
	if _, err := io.ReadFull(r, res.Stdout); err != nil {
		return nil, fmt.Errorf("launcher status %q: stdout: %w", res.Status, err)
	}
	if _, err := io.ReadFull(r, res.Stderr); err != nil {
		return nil, fmt.Errorf("launcher status %q: stderr: %w", res.Status, err)
	}
	return res, nil
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
	// The capability and no_new_privs settings are per thread: the
	// programs are forked from this one.
	runtime.LockOSThread()
	syscall.CloseOnExec(StatusFD)
	syscall.CloseOnExec(ExeFD) // (where there is one)
	syscall.CloseOnExec(0)
	status := os.NewFile(StatusFD, "status")
	l, err := newLauncher(args)
	if err != nil {
		// The error answers the first request, as any run's would.
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		_ = writeResponse(status, "error "+err.Error(), nil, nil, true)
		return 0
	}
	// Requests come on stdin, one at a time; its end (linkcheck closed
	// it, or died) is the end of the launcher, and stops a run under way.
	in := &requests{}
	for {
		line, ok := in.next()
		if !ok {
			return 0
		}
		res, stdout, stderr := l.serve(line)
		retire := l.retire(res)
		if err := writeResponse(status, res, stdout, stderr, retire); err != nil || retire {
			return 0
		}
	}
}

// requests reads request lines from stdin (fd 0) with plain reads, so that
// the launcher's one thread can poll stdin during a run.
type requests struct {
	buf []byte
}

// next returns the next line, false at the end of stdin.
func (r *requests) next() (string, bool) {
	var chunk [4096]byte
	for {
		if i := bytes.IndexByte(r.buf, '\n'); i >= 0 {
			line := string(r.buf[:i+1])
			r.buf = r.buf[i+1:]
			return line, true
		}
		if len(r.buf) > 1<<20 {
			return "", false
		}
		n, err := unix.Read(0, chunk[:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n <= 0 {
			return "", false
		}
		r.buf = append(r.buf, chunk[:n]...)
	}
}

// writeResponse writes one Response (see its doc) to w.
func writeResponse(w io.Writer, status string, stdout, stderr *capture, retire bool) error {
	status = strings.ReplaceAll(status, "\n", " ")
	if stdout == nil {
		stdout = &capture{}
	}
	if stderr == nil {
		stderr = &capture{}
	}
	r := 0
	if retire {
		r = 1
	}
	var b []byte
	b = fmt.Appendf(b, "%s\n%d %d %d %d %d\n", status, len(stdout.buf), stdout.dropped, len(stderr.buf), stderr.dropped, r)
	b = append(b, stdout.buf...)
	b = append(b, stderr.buf...)
	_, err := w.Write(b)
	return err
}

// launcher is the state of a serving launcher: its mode, the limits it
// set on itself, and the /dev/null the programs read.
type launcher struct {
	mode    string
	timeout time.Duration
	cpu     time.Duration // RLIMIT_CPU's soft limit (of this process too)
	// root is the jail's tmpfs (Jail, UserJail): mounted once, emptied
	// and checked empty after every run (remounted when it is not).
	root string
	buf  []byte // a copy's buffer, where sendfile cannot copy
	null *os.File
	// sigR is readable once the launcher was told to stop by a signal
	// (a goroutine forwards SIGTERM, SIGINT and SIGHUP to it).
	sigR    int
	sigName chan string
}

// newLauncher sets up the containment of every run: the namespace's
// mounts made private and the capabilities dropped (Jail), or the
// subreaper (Plain); the limits, on this process, which every program
// inherits.
func newLauncher(args []string) (*launcher, error) {
	if len(args) != 5 || args[0] != "serve" {
		return nil, fmt.Errorf("launcher: arguments %q, want serve MODE TIMEOUT STACK ROOT", args)
	}
	l := &launcher{mode: args[1], root: args[4]}
	var err error
	if l.timeout, err = time.ParseDuration(args[2]); err != nil {
		return nil, fmt.Errorf("launcher: %w", err)
	}
	stack, err := strconv.ParseUint(args[3], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("launcher: %w", err)
	}
	switch l.mode {
	case Jail, UserJail:
		if err := jailSetup(l.root); err != nil {
			return nil, fmt.Errorf("jail: %w", err)
		}
	case Plain:
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return nil, fmt.Errorf("prctl PR_SET_CHILD_SUBREAPER: %w", err)
		}
	default:
		return nil, fmt.Errorf("launcher: unknown mode %q", l.mode)
	}
	limits := Limits(l.timeout, stack)
	if err := setLimits(limits, stack); err != nil {
		return nil, err
	}
	var cpu unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_CPU, &cpu); err != nil {
		return nil, fmt.Errorf("getrlimit RLIMIT_CPU: %w", err)
	}
	l.cpu = time.Duration(min(cpu.Cur, 1<<30)) * time.Second
	if l.null, err = os.Open(os.DevNull); err != nil {
		return nil, err
	}
	var sp [2]int
	if err := unix.Pipe2(sp[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("launcher: pipe: %w", err)
	}
	l.sigR = sp[0]
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	names := make(chan string, 1)
	go func() {
		s := <-sigs
		names <- s.String()
		_, _ = unix.Write(sp[1], []byte{1})
	}()
	l.sigName = names
	return l, nil
}

// retire reports whether the launcher should exit after a run that ended
// with status res: when it was told to stop, or when its own CPU time
// (which its RLIMIT_CPU, set for the programs, also bounds) reaches half
// of that limit.
func (l *launcher) retire(res string) bool {
	if strings.HasPrefix(res, "cancel ") || strings.HasPrefix(res, "error ") {
		return true
	}
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return true
	}
	used := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return used >= l.cpu/2
}

// capture keeps the first MaxOutput bytes of a program's stream and counts
// the rest.
type capture struct {
	buf     []byte
	dropped int64
}

// readFrom reads what fd has (it polled readable) into c; it returns false
// at the end of the stream or on an error.
func (c *capture) readFrom(fd int) bool {
	var chunk [32 << 10]byte
	n, err := unix.Read(fd, chunk[:])
	if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
		return true
	}
	if err != nil || n <= 0 {
		return false
	}
	if room := MaxOutput - len(c.buf); room > 0 {
		c.buf = append(c.buf, chunk[:min(room, n)]...)
		c.dropped += int64(n - min(room, n))
	} else {
		c.dropped += int64(n)
	}
	return true
}

// serve runs the program of one request line and returns the status line
// with what the program wrote.
func (l *launcher) serve(line string) (string, *capture, *capture) {
	fields, rest, err := unquoteFields(line, 3)
	if err != nil {
		return "error launcher: request: " + err.Error(), nil, nil
	}
	size, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || size < 0 && l.mode != Plain {
		return fmt.Sprintf("error launcher: request: bad size %q", rest), nil, nil
	}
	return l.run(fields[0], fields[1], fields[2], size)
}

// unquoteFields splits a line of n Go-quoted strings and the rest of it,
// trimmed.
func unquoteFields(line string, n int) ([]string, string, error) {
	line = strings.TrimSuffix(line, "\n")
	var out []string
	for len(out) < n {
		line = strings.TrimLeft(line, " ")
		q, err := strconv.QuotedPrefix(line)
		if err != nil {
			return nil, "", fmt.Errorf("%q: %w", line, err)
		}
		s, err := strconv.Unquote(q)
		if err != nil {
			return nil, "", err
		}
		out = append(out, s)
		line = line[len(q):]
	}
	return out, strings.TrimSpace(line), nil
}

// run starts one program, its stdout and stderr on pipes of the
// launcher's, and waits on one thread, polling, for its end (or the
// timeout, or a signal to the launcher, or anything on stdin, which means
// linkcheck does not wait any more), collecting what it writes; then it
// kills and reaps every process it left and collects the rest of the
// output. It returns the status line and the output.
func (l *launcher) run(dir, prog, name string, size int64) (string, *capture, *capture) {
	var outp, errp [2]int
	if err := unix.Pipe2(outp[:], unix.O_CLOEXEC); err != nil {
		return "error launcher: pipe: " + err.Error(), nil, nil
	}
	defer unix.Close(outp[0])
	if err := unix.Pipe2(errp[:], unix.O_CLOEXEC); err != nil {
		unix.Close(outp[1])
		return "error launcher: pipe: " + err.Error(), nil, nil
	}
	defer unix.Close(errp[0])
	stdout, stderr := &capture{}, &capture{}
	res := l.start(dir, prog, name, size, outp[0], outp[1], errp[0], errp[1], stdout, stderr)
	// Every process that held the write ends is gone (killed and reaped),
	// so both pipes reach their end; they are not waited for past a
	// bound, should one have escaped.
	fds := []unix.PollFd{{Fd: int32(outp[0]), Events: unix.POLLIN}, {Fd: int32(errp[0]), Events: unix.POLLIN}}
	caps := []*capture{stdout, stderr}
	deadline := time.Now().Add(time.Second)
	for open := 2; open > 0; {
		left := time.Until(deadline)
		if left <= 0 {
			return "error launcher: the program's output did not end after it was reaped", nil, nil
		}
		n, err := unix.Poll(fds, int(left/time.Millisecond)+1)
		if errors.Is(err, unix.EINTR) || n == 0 {
			continue
		}
		if err != nil {
			return "error launcher: poll: " + err.Error(), nil, nil
		}
		for i := range fds {
			if fds[i].Fd >= 0 && fds[i].Revents != 0 && !caps[i].readFrom(int(fds[i].Fd)) {
				fds[i].Fd = -1
				open--
			}
		}
	}
	return res, stdout, stderr
}

// start starts the program with the write ends of the two pipes as its
// stdout and stderr (and closes them here), polls until it ends, reading
// the read ends meanwhile, and cleans up the run's processes; it returns
// the status line.
func (l *launcher) start(dir, prog, name string, size int64, outR, outW, errR, errW int, stdout, stderr *capture) string {
	// The clone returns the program's pidfd (CLONE_PIDFD), where the
	// kernel has them.
	pidfd := -1
	attr := &syscall.ProcAttr{
		Dir:   dir,
		Env:   []string{},
		Files: []uintptr{l.null.Fd(), uintptr(outW), uintptr(errW)},
		Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, PidFD: &pidfd},
	}
	path := prog
	if l.mode != Plain {
		var err error
		if l.buf, err = jailRun(l.root, ExeFD, size, l.buf); err != nil {
			unix.Close(outW)
			unix.Close(errW)
			if cerr := emptyJail(l.root); cerr != nil {
				return "error jail run: " + err.Error() + "; " + cerr.Error()
			}
			return "error jail run: " + err.Error()
		}
		path, attr.Dir, attr.Sys.Chroot = "/prog", "/", l.root
	}
	var pid int
	var err error
	for attempt := 1; ; attempt++ {
		pid, err = syscall.ForkExec(path, []string{name}, attr)
		if err == nil || !errors.Is(err, syscall.ETXTBSY) || attempt == etxtbsyAttempts {
			break
		}
		time.Sleep(time.Duration(attempt) * 10 * time.Millisecond)
	}
	unix.Close(outW)
	unix.Close(errW)
	if err != nil {
		return "error start: " + err.Error()
	}
	res := l.wait(pid, pidfd, outR, errR, stdout, stderr)
	if l.mode != Plain {
		killNamespace()
		if err := emptyJail(l.root); err != nil {
			// The next run must not start from what this one left: the
			// launcher retires (an error status) after this report. (Not
			// "error jail: ", which reports a jail the kernel refused.)
			return "error jail run: " + err.Error()
		}
	} else {
		killDescendants()
	}
	return res
}

// wait polls the program's pidfd (or, where there is none, wakes every
// millisecond to ask), its output, stdin and the signal pipe until the
// program ends or is to be stopped, and reaps it.
func (l *launcher) wait(pid, pidfd, outR, errR int, stdout, stderr *capture) string {
	if pidfd < 0 {
		var err error
		if pidfd, err = unix.PidfdOpen(pid, 0); err != nil {
			pidfd = -1
		}
	}
	if pidfd >= 0 {
		defer unix.Close(pidfd)
	}
	reap := func() unix.WaitStatus {
		var ws unix.WaitStatus
		for {
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if !errors.Is(err, unix.EINTR) {
				return ws
			}
		}
	}
	stop := func(why string) string {
		_ = unix.Kill(pid, unix.SIGKILL)
		reap()
		return why
	}
	fds := []unix.PollFd{
		{Fd: int32(pidfd), Events: unix.POLLIN},
		{Fd: int32(outR), Events: unix.POLLIN},
		{Fd: int32(errR), Events: unix.POLLIN},
		{Fd: 0, Events: unix.POLLIN},
		{Fd: int32(l.sigR), Events: unix.POLLIN},
	}
	caps := []*capture{nil, stdout, stderr}
	deadline := time.Now().Add(l.timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return stop("timeout")
		}
		wake := int(left/time.Millisecond) + 1
		if pidfd < 0 {
			wake = min(wake, 1)
		}
		n, err := unix.Poll(fds, wake)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return stop("error launcher: poll: " + err.Error())
		}
		if pidfd < 0 {
			var ws unix.WaitStatus
			if got, _ := unix.Wait4(pid, &ws, unix.WNOHANG, nil); got == pid {
				return "exit " + strconv.FormatUint(uint64(ws), 10)
			}
		}
		if n <= 0 {
			continue
		}
		if fds[0].Revents != 0 {
			return "exit " + strconv.FormatUint(uint64(reap()), 10)
		}
		for i := 1; i <= 2; i++ {
			if fds[i].Fd >= 0 && fds[i].Revents != 0 && !caps[i].readFrom(int(fds[i].Fd)) {
				fds[i].Fd = -1 // at its end: polled no more
			}
		}
		if fds[3].Revents != 0 {
			// A request while one runs, or the end of stdin: linkcheck
			// does not wait for this run any more.
			return stop("cancel stdin")
		}
		if fds[4].Revents != 0 {
			return stop("cancel " + <-l.sigName)
		}
	}
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

// jailSetup prepares the namespace of a jailed launcher: private mounts,
// the jail's tmpfs on root and no capabilities for what this thread
// starts.
func jailSetup(root string) error {
	if os.Getpid() != 1 {
		return errors.New("the launcher is not the init of a new PID namespace")
	}
	if !filepath.IsAbs(root) {
		return fmt.Errorf("jail root %q is not an absolute path", root)
	}
	if err := unix.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := mountJail(root); err != nil {
		return err
	}
	return dropCapabilities()
}

// mountJail mounts a fresh tmpfs, the root of the jailed programs, on root.
func mountJail(root string) error {
	if err := unix.Mount("linkcheck-run", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, JailFS); err != nil {
		return fmt.Errorf("mount tmpfs on %s: %w", root, err)
	}
	return nil
}

// jailRun puts one jailed program in the (empty) jail root: a copy of the
// first size bytes of the file src as root/prog, mode 0555, copied by the
// kernel (sendfile) or, where it cannot, through buf (which it returns,
// grown to hold the file). The launcher keeps the effective capabilities
// that the jail's upkeep needs; the program, started by a thread whose
// bounding set is empty, gets none. Whatever the program does to its copy
// stays in the jail and goes with the rest of it after the run. (Plain
// system calls: os.File would register every descriptor with Go's poller.)
func jailRun(root string, src int, size int64, buf []byte) ([]byte, error) {
	if size > JailBytes {
		return buf, fmt.Errorf("the executable's %d bytes do not fit the jail's %d", size, int64(JailBytes))
	}
	target := filepath.Join(root, "prog")
	dst, err := unix.Open(target, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o555)
	if err != nil {
		return buf, &os.PathError{Op: "create", Path: target, Err: err}
	}
	if buf, err = copyPrefix(dst, src, size, buf); err != nil {
		unix.Close(dst)
		return buf, &os.PathError{Op: "write", Path: target, Err: err}
	}
	if err := unix.Close(dst); err != nil {
		return buf, &os.PathError{Op: "close", Path: target, Err: err}
	}
	return buf, nil
}

// copyPrefix copies the first size bytes of src to dst (at its offset),
// with sendfile, or through buf where the kernel refuses that (returning
// buf, grown).
func copyPrefix(dst, src int, size int64, buf []byte) ([]byte, error) {
	var off int64
	for off < size {
		n, err := unix.Sendfile(dst, src, &off, int(min(size-off, 1<<30)))
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS):
			return copyThrough(dst, src, off, size, buf)
		case err != nil:
			return buf, err
		case n == 0:
			return buf, fmt.Errorf("the executable's file ends at %d of its %d bytes", off, size)
		}
	}
	return buf, nil
}

// copyThrough is copyPrefix's read and write through buf, from offset off.
func copyThrough(dst, src int, off, size int64, buf []byte) ([]byte, error) {
	if cap(buf) < 64<<10 {
		buf = make([]byte, 64<<10)
	}
	buf = buf[:cap(buf)]
	for off < size {
		n, err := unix.Pread(src, buf[:min(int64(len(buf)), size-off)], off)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return buf, err
		}
		if n == 0 {
			return buf, fmt.Errorf("the executable's file ends at %d of its %d bytes", off, size)
		}
		for rest := buf[:n]; len(rest) > 0; {
			w, err := unix.Write(dst, rest)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return buf, err
			}
			rest = rest[w:]
		}
		off += int64(n)
	}
	return buf, nil
}

// jailFresh is what the jail's root is between runs: an empty directory,
// mode 0755, owned by the namespace's root.
const jailFresh = unix.S_IFDIR | 0o755

// emptyJail makes the jail's root what a freshly mounted tmpfs is, after
// every process of the run is gone: it removes every entry, and resets
// the root's mode, owner and times; then it checks that the root is an
// empty directory of that mode and owner, still the tmpfs, with no user.*
// extended attribute, and when it is not (or removing failed) it unmounts
// the tmpfs and mounts a new one. So no run sees a file, a directory or an
// attribute an earlier run made.
func emptyJail(root string) error {
	if cleanJail(root) == nil {
		return nil
	}
	_ = unix.Unmount(root, unix.MNT_DETACH)
	if err := mountJail(root); err != nil {
		return err
	}
	if err := cleanJail(root); err != nil {
		return fmt.Errorf("fresh jail not empty: %w", err)
	}
	return nil
}

// cleanJail empties root and checks the result (see emptyJail).
func cleanJail(root string) error {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var dents [4096]byte
	names, err := readNames(fd, dents[:])
	if err != nil {
		return err
	}
	for _, n := range names {
		// The program's copy, or anything that is not a directory, goes
		// at once; a directory with all it holds.
		if unix.Unlinkat(fd, n, 0) == nil {
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, n)); err != nil {
			return err
		}
	}
	// The mode and owner are reset when a run changed them (the times
	// always: making and removing /prog changes them).
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode != jailFresh || st.Uid != 0 || st.Gid != 0 {
		if err := unix.Fchmod(fd, 0o755); err != nil {
			return err
		}
		if err := unix.Fchown(fd, 0, 0); err != nil {
			return err
		}
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
	}
	if err := unix.UtimesNanoAt(fd, "", []unix.Timespec{{}, {}}, unix.AT_EMPTY_PATH); err != nil {
		if err := unix.UtimesNano(root, []unix.Timespec{{}, {}}); err != nil {
			return err
		}
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil {
		return err
	}
	switch {
	case st.Mode != jailFresh || st.Uid != 0 || st.Gid != 0:
		return fmt.Errorf("jail root mode %#o owner %d:%d", st.Mode, st.Uid, st.Gid)
	case st.Nlink != 2:
		return fmt.Errorf("jail root has %d links", st.Nlink)
	case fs.Type != unix.TMPFS_MAGIC:
		return fmt.Errorf("jail root is not a tmpfs")
	}
	// Only user.* attributes can be set without capabilities.
	var xattrs [4096]byte
	n, err := unix.Flistxattr(fd, xattrs[:])
	if err != nil && !errors.Is(err, unix.ENOTSUP) {
		return fmt.Errorf("jail root's extended attributes: %w", err)
	}
	for rest := xattrs[:max(n, 0)]; len(rest) > 0; {
		name, after, _ := bytes.Cut(rest, []byte{0})
		if bytes.HasPrefix(name, []byte("user.")) {
			return fmt.Errorf("jail root has extended attribute %s", name)
		}
		rest = after
	}
	if _, err := unix.Seek(fd, 0, io.SeekStart); err != nil {
		return err
	}
	if names, err := readNames(fd, dents[:]); err != nil || len(names) > 0 {
		return fmt.Errorf("jail root not empty after cleaning: %q %v", names, err)
	}
	return nil
}

// readNames reads the names of the directory fd's entries, but . and ..,
// through buf.
func readNames(fd int, buf []byte) ([]string, error) {
	var names []string
	for {
		n, err := unix.Getdents(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return names, nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
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
