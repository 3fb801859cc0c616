//go:build linux

package exec

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/linkcheck/linkcheck/oracle/exec/launch"
)

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

// runContained runs path once through a launcher of its own in the given
// mode (the launcher serves this one run and is stopped).
func runContained(ctx context.Context, path string, opts Options, mode string) (*Result, error) {
	exe, err := fileExecutable(path)
	if err != nil {
		return nil, err
	}
	var p launchers
	defer p.close()
	return p.run(ctx, exe, opts, mode, "")
}

// executable is what a native run runs: its bytes, which a jailed
// launcher takes through its memfd (launch.ExeFD), and, for a Plain
// launcher, which execs a file, the file: path when it is on disk, else
// one that scratch writes (and its function removes).
type executable struct {
	name    string // argv[0]
	data    []byte
	path    string
	scratch func() (string, func(), error)
}

// fileExecutable is the executable file at path.
func fileExecutable(path string) (executable, error) {
	data, err := readBounded(path)
	if err != nil {
		return executable{}, err
	}
	return executable{name: filepath.Base(path), data: data, path: path}, nil
}

// file returns the executable's path, written to a scratch file when it
// has none (remove removes that).
func (e executable) file() (path string, remove func(), err error) {
	if e.path != "" {
		abs, err := filepath.Abs(e.path)
		return abs, func() {}, err
	}
	return e.scratch()
}

// scratchBase is /dev/shm when it is a writable tmpfs that allows exec,
// else os.TempDir().
func scratchBase() string {
	var st unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &st); err == nil && st.Type == unix.TMPFS_MAGIC && st.Flags&unix.ST_NOEXEC == 0 && st.Flags&unix.ST_RDONLY == 0 && unix.Access("/dev/shm", unix.W_OK) == nil {
		return "/dev/shm"
	}
	return os.TempDir()
}

// launchers are the serving launchers of package launch that a Runner
// keeps between native runs, idle ones by containment mode and timeout: a
// launcher sets up the limits, the namespace and the dropped capabilities
// once and then starts one program per request, which saves the re-exec
// of this binary (a few milliseconds) on every run after the first.
type launchers struct {
	mu     sync.Mutex
	idle   map[launcherKey][]*launcher
	closed bool
	// noUserNS is set once the kernel refused a launch.UserJail launcher.
	noUserNS bool
	// started counts the launchers started (for the tests).
	started atomic.Int32
}

type launcherKey struct {
	mode    string
	timeout time.Duration
}

// launcher is one serving launcher: a re-execution of this binary
// (/proc/self/exe, argv[0] launch.Arg0) in its own process group, reading
// requests on its stdin and answering on launch.StatusFD.
type launcher struct {
	key    launcherKey
	cmd    *osexec.Cmd
	req    *os.File // its stdin
	status *os.File
	resp   *bufio.Reader
	stderr *lockedBuffer // what the launcher itself wrote
	runs   int
	// exe is the memfd of a jailed launcher's executables (launch.ExeFD),
	// exeFD its descriptor and exeSize its size.
	exe     *os.File
	exeFD   int
	exeSize int64
	// root is the jail's mount point (Jail, UserJail), removed by stop.
	root string
}

// lockedBuffer is a limitedBuffer written by os/exec's copying goroutine
// and read by the run that reports the launcher's failure.
type lockedBuffer struct {
	mu sync.Mutex
	b  limitedBuffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return excerpt(b.b.buf)
}

// startLauncher starts a launcher for key; a jailed one gets a directory
// of its own in base ("" for os.TempDir()) to mount its jail on.
func startLauncher(key launcherKey, base string) (*launcher, error) {
	root := ""
	if key.mode != launch.Plain {
		var err error
		if root, err = os.MkdirTemp(base, "linkcheck-jail-"); err != nil {
			return nil, err
		}
	}
	l, err := startLauncherIn(key, root)
	if err != nil && root != "" {
		os.Remove(root)
	}
	return l, err
}

func startLauncherIn(key launcherKey, root string) (*launcher, error) {
	reqR, reqW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		reqR.Close()
		reqW.Close()
		return nil, err
	}
	l := &launcher{key: key, req: reqW, status: statusR, resp: bufio.NewReader(statusR), stderr: &lockedBuffer{b: limitedBuffer{max: 64 << 10}}, root: root, exeFD: -1}
	cmd := osexec.Command("/proc/self/exe")
	cmd.Args = launch.Args(key.mode, key.timeout, StackSize, root)
	cmd.Env = []string{}
	cmd.Stdin = reqR
	cmd.Stderr = l.stderr
	cmd.ExtraFiles = []*os.File{statusW} // launch.StatusFD
	if key.mode != launch.Plain {
		fd, err := unix.MemfdCreate("linkcheck-exe", unix.MFD_CLOEXEC)
		if err != nil {
			reqR.Close()
			reqW.Close()
			statusR.Close()
			statusW.Close()
			return nil, fmt.Errorf("launcher: memfd: %w", err)
		}
		l.exe, l.exeFD = os.NewFile(uintptr(fd), "linkcheck-exe"), fd
		cmd.ExtraFiles = append(cmd.ExtraFiles, l.exe) // launch.ExeFD
	}
	// The launcher stops at the end of its stdin: when it is closed, or
	// when this process dies, however it dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	switch key.mode {
	case launch.Jail:
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWPID | syscall.CLONE_NEWNS
	case launch.UserJail:
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID | syscall.CLONE_NEWNS
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
	}
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	reqR.Close()
	statusW.Close()
	if err != nil {
		reqW.Close()
		statusR.Close()
		if l.exe != nil {
			l.exe.Close()
		}
		if key.mode == launch.UserJail {
			return nil, &userNamespaceRefused{err}
		}
		return nil, fmt.Errorf("start launcher: %w", err)
	}
	l.cmd = cmd
	return l, nil
}

// stop ends the launcher: the end of its stdin makes it exit (killing a
// run under way); past the backstop it is killed with its process group.
func (l *launcher) stop() {
	l.req.Close()
	done := make(chan struct{})
	go func() {
		_ = l.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(backstop):
		_ = syscall.Kill(-l.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	l.status.Close()
	if l.exe != nil {
		l.exe.Close()
	}
	if l.root != "" {
		// Its mount was in the launcher's namespace, gone with it.
		os.Remove(l.root)
	}
}

// kill kills the launcher and its process group at once (in launch.Jail the
// kernel kills its namespace with it).
func (l *launcher) kill() {
	_ = syscall.Kill(-l.cmd.Process.Pid, syscall.SIGKILL)
	l.stop()
}

func (p *launchers) get(key launcherKey, base string) (*launcher, bool, error) {
	p.mu.Lock()
	if list := p.idle[key]; len(list) > 0 {
		l := list[len(list)-1]
		p.idle[key] = list[:len(list)-1]
		p.mu.Unlock()
		return l, true, nil
	}
	p.mu.Unlock()
	p.started.Add(1)
	l, err := startLauncher(key, base)
	return l, false, err
}

func (p *launchers) put(l *launcher) {
	p.mu.Lock()
	if !p.closed {
		if p.idle == nil {
			p.idle = map[launcherKey][]*launcher{}
		}
		p.idle[l.key] = append(p.idle[l.key], l)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	l.stop()
}

// close stops every idle launcher; launchers busy with a run stop when
// they are given back.
func (p *launchers) close() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, list := range idle {
		for _, l := range list {
			l.stop()
		}
	}
}

// native runs an ELF executable on the host, its run directory made in
// base. Its containment is launch.Jail when this process is root (a new PID
// and mount namespace, a chroot into a tmpfs, no capabilities),
// launch.UserJail otherwise (the same inside a new user namespace), and
// launch.Plain (limits, a subreaper, an empty environment and stdin, a
// private temporary working directory) only when the kernel refuses this
// user a user namespace or the mounts in it; that refusal is remembered.
func (p *launchers) native(ctx context.Context, exe executable, opts Options, base string) (*Result, error) {
	if os.Geteuid() == 0 {
		return p.run(ctx, exe, opts, launch.Jail, base)
	}
	p.mu.Lock()
	plain := p.noUserNS
	p.mu.Unlock()
	if !plain {
		res, err := p.run(ctx, exe, opts, launch.UserJail, base)
		var refused *userNamespaceRefused
		if !errors.As(err, &refused) {
			return res, err
		}
		p.mu.Lock()
		p.noUserNS = true
		p.mu.Unlock()
	}
	return p.run(ctx, exe, opts, launch.Plain, base)
}

// errLauncherGone is a launcher that was dead before it could take a run.
var errLauncherGone = errors.New("launcher gone")

// run runs the ELF executable exe on the host through a launcher of the
// given mode, which applies the resource limits before the program
// starts, kills every process the program leaves behind and enforces the
// timeout (docs/exec.md); a Plain run's directory is made in base ("" for
// os.TempDir()). A jailed launcher takes the executable's bytes through
// its memfd; a Plain one execs a file. A launcher kept from an earlier run
// that turns out to be gone is replaced once.
func (p *launchers) run(ctx context.Context, exe executable, opts Options, mode, base string) (*Result, error) {
	dir, path := "", "" // a jailed run is in its launcher's tmpfs
	if mode == launch.Plain {
		var err error
		var remove func()
		if path, remove, err = exe.file(); err != nil {
			return nil, err
		}
		defer remove()
		if dir, err = os.MkdirTemp(base, "linkcheck-run-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	} else if len(exe.data) > launch.JailBytes {
		return nil, fmt.Errorf("the executable's %d bytes do not fit the jail's %d", len(exe.data), launch.JailBytes)
	}

	key := launcherKey{mode: mode, timeout: opts.timeout()}
	for {
		l, reused, err := p.get(key, base)
		if err != nil {
			return nil, err
		}
		resp, err := l.run(ctx, dir, path, exe)
		if errors.Is(err, errLauncherGone) && reused {
			l.kill()
			continue
		}
		if err != nil {
			l.kill()
			return nil, err
		}
		if resp.Retire {
			l.stop()
		} else {
			p.put(l)
		}
		if key.mode == launch.UserJail && strings.HasPrefix(resp.Status, "error jail: ") {
			return nil, &userNamespaceRefused{errors.New(strings.TrimPrefix(resp.Status, "error "))}
		}
		return result(resp, key.timeout)
	}
}

// run sends one request and waits for its response, within the timeout
// and the backstop; on cancellation it tells the launcher to stop (it
// kills the program and reports) and returns the context's error.
func (l *launcher) run(ctx context.Context, dir, path string, exe executable) (*launch.Response, error) {
	size := int64(-1)
	if l.exe != nil {
		if err := l.load(exe.data); err != nil {
			return nil, err
		}
		size = int64(len(exe.data))
	}
	if _, err := l.req.WriteString(launch.Request(dir, path, exe.name, size)); err != nil {
		return nil, fmt.Errorf("%w: %v; stderr: %s", errLauncherGone, err, l.stderr)
	}
	l.runs++
	limit := l.key.timeout + backstop
	if err := l.status.SetReadDeadline(time.Now().Add(limit)); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = l.cmd.Process.Signal(syscall.SIGTERM) })
	resp, err := launch.ReadResponse(l.resp)
	stop()
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("cancelled: %w", ctx.Err())
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, fmt.Errorf("launcher: no report within %v (killed); stderr: %s", limit, l.stderr)
	case err != nil && l.runs == 1:
		return nil, fmt.Errorf("%v; stderr: %s", err, l.stderr)
	case err != nil:
		// A launcher that served runs before and now has no answer at
		// all died between runs or in this one before the program
		// could report: the run is made again by a new one.
		return nil, fmt.Errorf("%w: %v; stderr: %s", errLauncherGone, err, l.stderr)
	}
	return resp, nil
}

// load writes data at the start of the launcher's memfd (the launcher is
// idle: it reads the memfd only while it serves a request). The file keeps
// its size between runs, so that rewriting it allocates no memory, unless
// it is more than twice what data needs (and over 1 MiB).
func (l *launcher) load(data []byte) error {
	if l.exeSize > max(2*int64(len(data)), 1<<20) {
		if err := unix.Ftruncate(l.exeFD, int64(len(data))); err != nil {
			return fmt.Errorf("launcher: memfd: %w", err)
		}
		l.exeSize = int64(len(data))
	}
	for off := 0; off < len(data); {
		n, err := unix.Pwrite(l.exeFD, data[off:], int64(off))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("launcher: memfd: %w", err)
		}
		off += n
	}
	l.exeSize = max(l.exeSize, int64(len(data)))
	return nil
}

// result turns a launcher's response into the run's result or error.
func result(resp *launch.Response, timeout time.Duration) (*Result, error) {
	res := &Result{Bits: 64, Stdout: resp.Stdout, Stderr: resp.Stderr}
	var st syscall.WaitStatus
	switch word, rest, _ := strings.Cut(resp.Status, " "); word {
	case "exit":
		n, perr := strconv.ParseUint(rest, 10, 32)
		if perr != nil {
			return nil, fmt.Errorf("launcher: bad status %q", resp.Status)
		}
		st = syscall.WaitStatus(n)
	case "timeout":
		return nil, fmt.Errorf("did not finish within %v (killed); stderr: %s", timeout, excerpt(res.Stderr))
	case "error":
		return nil, errors.New(rest)
	default: // "cancel SIGNAL": the launcher was told to stop by someone else
		return nil, fmt.Errorf("launcher: status %q; stderr: %s", resp.Status, excerpt(res.Stderr))
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
	if len(res.Stdout) != 8 || resp.OutDropped != 0 {
		return nil, fmt.Errorf("wrote %d bytes to stdout, want exactly 8 (the little-endian value): %s; stderr: %s",
			int64(len(res.Stdout))+resp.OutDropped, excerpt(res.Stdout), excerpt(res.Stderr))
	}
	res.Value = binary.LittleEndian.Uint64(res.Stdout)
	return res, nil
}
